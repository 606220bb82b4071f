# Python PyTorch's side of bench/conversion.ts: torch.tensor from Python lists and tolist(), the
# conversions a data pipeline or a decoding loop makes. Prints {case: milliseconds per call}.
import json
import sys
import time

import torch

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
torch.set_num_threads(1)

flat = [i * 0.5 for i in range(1_000_000)]
rows = [[i + j * 0.5 for j in range(1000)] for i in range(1000)]
tokens = [i % 50_000 for i in range(1_000_000)]
matrix = torch.randn(1000, 1000)

CASES = {
    "tensor(1e6 numbers)": lambda: torch.tensor(flat),
    "tensor(1000x1000 nested)": lambda: torch.tensor(rows),
    "tensor(1e6 token ids, int64)": lambda: torch.tensor(tokens, dtype=torch.int64),
    "tolist(1000x1000 float32)": lambda: matrix.tolist(),
}


# Process CPU time, as bench/conversion.ts measures.
def ms(fn):
    fn()
    times = []
    for _ in range(ROUNDS):
        t0 = time.process_time_ns()
        fn()
        times.append((time.process_time_ns() - t0) / 1e6)
    return sorted(times)[len(times) // 2]


print(json.dumps({name: ms(fn) for name, fn in CASES.items()}))
