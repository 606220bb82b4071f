# Python PyTorch + HF transformers' side of bench/train_step.ts: the same Llama training step (forward
# with labels, backward, AdamW step, zero_grad(set_to_none=True)) at one size, timed per phase in wall time, and each step in process CPU time.
# argv: size name, steps, warm-up steps, threads. Prints one JSON object of per-step lists in ms.
import json
import resource
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

SIZES = json.loads(sys.argv[1])
STEPS, WARMUP, THREADS = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(THREADS)
torch.manual_seed(0)

cfg = SIZES["config"]
model = LlamaForCausalLM(LlamaConfig(**cfg, attn_implementation="sdpa", use_cache=False))
model.train()
opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
batch, seq = SIZES["batch"], SIZES["seq"]
ids = torch.randint(0, cfg["vocab_size"], (batch, seq))

phases = {"forward": [], "backward": [], "optimizer": [], "zero_grad": [], "step": [], "step_cpu": []}
for i in range(WARMUP + STEPS):
    c0 = time.process_time()
    t0 = time.perf_counter()
    loss = model(ids, labels=ids).loss
    t1 = time.perf_counter()
    loss.backward()
    t2 = time.perf_counter()
    opt.step()
    t3 = time.perf_counter()
    model.zero_grad(set_to_none=True)
    t4 = time.perf_counter()
    c4 = time.process_time()
    loss.item()
    if i >= WARMUP:
        for k, a, b in (("forward", t0, t1), ("backward", t1, t2), ("optimizer", t2, t3), ("zero_grad", t3, t4), ("step", t0, t4)):
            phases[k].append((b - a) * 1e3)
        phases["step_cpu"].append((c4 - c0) * 1e3)
phases["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(phases))
