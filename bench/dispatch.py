# Per-op dispatch overhead in Python PyTorch: the yardstick for bench/dispatch.ts, which runs this
# file and prints both side by side. Prints one JSON object {case: microseconds per iteration}.
import json
import sys
import time

import torch

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 7
DEVICE = sys.argv[2] if len(sys.argv) > 2 else "cpu"
torch.set_num_threads(1)
torch.manual_seed(0)

a4, b4 = torch.randn(4, device=DEVICE), torch.randn(4, device=DEVICE)
a8, b8 = torch.randn(8, 8, device=DEVICE), torch.randn(8, 8, device=DEVICE)
x = torch.randn(8, 16, device=DEVICE)
w1 = torch.randn(16, 32, device=DEVICE, requires_grad=True)
b1 = torch.zeros(32, device=DEVICE, requires_grad=True)
w2 = torch.randn(32, 1, device=DEVICE, requires_grad=True)
b2 = torch.zeros(1, device=DEVICE, requires_grad=True)


def mlp_step():
    out = x.matmul(w1).add(b1).relu().matmul(w2).add(b2)
    out.sum().backward()
    for p in (w1, b1, w2, b2):
        p.grad = None


CASES = {
    "add 4": (lambda: a4.add(b4), 20000),
    "matmul 8x8": (lambda: a8.matmul(b8), 20000),
    "mlp fwd+bwd 16-32-1, batch 8": (mlp_step, 2000),
    "sum(dim=1, keepdim=True) 8x8": (lambda: a8.sum(dim=1, keepdim=True), 20000),
    "index t[0] 8x8": (lambda: a8[0], 20000),
    "cat([a, b]) 4": (lambda: torch.cat([a4, b4]), 20000),
}


# Process CPU time, not wall time: the machine is shared, and CPU time is what this process spent.
def per_iter_us(fn, n):
    t0 = time.process_time_ns()
    for _ in range(n):
        fn()
    if DEVICE != "cpu":
        torch.cuda.synchronize()
    return (time.process_time_ns() - t0) / n / 1000


result = {}
for name, (fn, n) in CASES.items():
    per_iter_us(fn, n // 4)  # warm-up
    times = sorted(per_iter_us(fn, n) for _ in range(ROUNDS))
    result[name] = times[len(times) // 2]
print(json.dumps(result))
