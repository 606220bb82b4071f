# Python HF transformers' side of bench/generate.ts: greedy generate with the KV cache on a small
# GQA Llama. argv: config JSON, prompt length, new tokens, repeats, threads. Prints tokens/s per repeat.
import json
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

cfg = json.loads(sys.argv[1])
prompt, new, repeats, threads = (int(a) for a in sys.argv[2:6])
torch.set_num_threads(threads)
torch.manual_seed(0)
model = LlamaForCausalLM(LlamaConfig(**cfg, attn_implementation="sdpa")).eval()
ids = torch.randint(0, cfg["vocab_size"], (1, prompt))
rates = []
for i in range(repeats + 1):
    t0 = time.perf_counter()
    out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new, min_new_tokens=new, do_sample=False, pad_token_id=0)
    dt = time.perf_counter() - t0
    assert out.shape[1] == prompt + new
    if i > 0:
        rates.append(new / dt)
print(json.dumps({"tokens_per_s": rates}))
