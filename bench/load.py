# Python HF transformers' side of bench/load.ts. `make DIR CONFIG_JSON` writes the checkpoint;
# `load DIR THREADS` times from_pretrained and a first forward. Prints one JSON object.
import json
import resource
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

if sys.argv[1] == "make":
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(**json.loads(sys.argv[3]))).save_pretrained(sys.argv[2])
    sys.exit(0)

torch.set_num_threads(int(sys.argv[3]))
c0, t0 = time.process_time(), time.perf_counter()
model = LlamaForCausalLM.from_pretrained(sys.argv[2])
t1, c1 = time.perf_counter(), time.process_time()
with torch.no_grad():
    model(torch.zeros(1, 8, dtype=torch.int64))
t2 = time.perf_counter()
print(json.dumps({"load_s": t1 - t0, "load_cpu_s": c1 - c0, "first_forward_s": t2 - t1, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
