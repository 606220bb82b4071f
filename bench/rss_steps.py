# Python PyTorch + HF transformers' side of bench/rss_steps.ts: the same Llama training loop, RSS
# sampled every `every` steps. argv: size JSON, steps, every, threads. Prints one JSON object.
import json
import sys

import torch
from transformers import LlamaConfig, LlamaForCausalLM


def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


size = json.loads(sys.argv[1])
steps, every, threads = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
torch.manual_seed(0)
cfg = size["config"]
model = LlamaForCausalLM(LlamaConfig(**cfg, attn_implementation="sdpa", use_cache=False))
model.train()
opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
ids = torch.randint(0, cfg["vocab_size"], (size["batch"], size["seq"]))
rss = []
for i in range(1, steps + 1):
    out = model(ids, labels=ids)
    out.loss.backward()
    opt.step()
    model.zero_grad(set_to_none=True)
    out.loss.item()
    out.logits[:, -1].argmax(-1).tolist()
    if i % every == 0:
        rss.append(rss_mib())
        print(f"Python step {i}: RSS {rss[-1]:.0f} MiB", file=sys.stderr, flush=True)  # progress, for a run cut short
print(json.dumps({"rss": rss}))
