# Python PyTorch + HF transformers' side of bench/train_step.ts: the same Llama training step (forward
# with labels, backward, AdamW step, zero_grad(set_to_none=True)) at one size, timed per phase in wall time, and each step in process CPU time.
# argv: size, steps, warm-up steps, threads, device, dtype. On CUDA each phase ends with a synchronize and
# the peak is max_memory_allocated. Prints one JSON object of per-step lists in ms.
import json
import resource
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

SIZES = json.loads(sys.argv[1])
STEPS, WARMUP, THREADS = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
DEVICE, DTYPE = sys.argv[5], getattr(torch, sys.argv[6])
CUDA = DEVICE.startswith("cuda")
sync = torch.cuda.synchronize if CUDA else (lambda: None)
torch.set_num_threads(THREADS)
torch.manual_seed(0)

cfg = SIZES["config"]
with torch.device(DEVICE):  # built where it runs, as tessera's from_config(config, {device}) does
    model = LlamaForCausalLM(LlamaConfig(**cfg, attn_implementation="sdpa", use_cache=False)).to(dtype=DTYPE)
model.train()
opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
batch, seq = SIZES["batch"], SIZES["seq"]
ids = torch.randint(0, cfg["vocab_size"], (batch, seq), device=DEVICE)

phases = {"forward": [], "backward": [], "optimizer": [], "zero_grad": [], "step": [], "step_cpu": []}
for i in range(WARMUP + STEPS):
    c0 = time.process_time()
    t0 = time.perf_counter()
    loss = model(ids, labels=ids).loss
    sync()
    t1 = time.perf_counter()
    loss.backward()
    sync()
    t2 = time.perf_counter()
    opt.step()
    sync()
    t3 = time.perf_counter()
    model.zero_grad(set_to_none=True)
    sync()
    t4 = time.perf_counter()
    c4 = time.process_time()
    loss.item()
    if i >= WARMUP:
        for k, a, b in (("forward", t0, t1), ("backward", t1, t2), ("optimizer", t2, t3), ("zero_grad", t3, t4), ("step", t0, t4)):
            phases[k].append((b - a) * 1e3)
        phases["step_cpu"].append((c4 - c0) * 1e3)
phases["peak_mib"] = torch.cuda.max_memory_allocated() / 2**20 if CUDA else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(phases))
