# Python PyTorch + HF transformers' side of bench/forward_cpu.ts: a Llama training step (forward
# with labels, backward, AdamW, zero_grad(set_to_none=True)) at one size; per step the forward's
# wall ms, the forward's main-thread CPU ms and its minor page faults, read the same way as the
# tessera side (/proc schedstat of the calling thread, getrusage).
# argv: size JSON (bench/llama_sizes.ts), steps, warm-up steps. Prints one JSON object of lists.
import json
import resource
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

size = json.loads(sys.argv[1])
steps, warmup = int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(1)
torch.manual_seed(0)
model = LlamaForCausalLM(LlamaConfig(**size["config"], attn_implementation="sdpa", use_cache=False))
model.train()
opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
ids = torch.randint(0, size["config"]["vocab_size"], (size["batch"], size["seq"]))


def thread_cpu_ms():
    with open("/proc/thread-self/schedstat") as f:
        return int(f.read().split()[0]) / 1e6


def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


out = {"wall": [], "thread_cpu": [], "faults": []}
for i in range(warmup + steps):
    f0, c0, t0 = faults(), thread_cpu_ms(), time.perf_counter()
    loss = model(ids, labels=ids).loss
    t1, c1, f1 = time.perf_counter(), thread_cpu_ms(), faults()
    loss.backward()
    opt.step()
    model.zero_grad(set_to_none=True)
    loss.item()
    if i >= warmup:
        out["wall"].append((t1 - t0) * 1e3)
        out["thread_cpu"].append(c1 - c0)
        out["faults"].append(f1 - f0)
print(json.dumps(out))
