# Python PyTorch + HF transformers' side of bench/tutorial.ts: the tutorial's training loop
# (examples/finetune/train.ts as main.ts runs it) written as a PyTorch user would — the embedded
# Llama config from random weights, the same prepared dataset file, DataLoader with shuffle and
# drop_last, AdamW, HF's cosine schedule with warmup, labels with padding set to -100, loss.item()
# every step, zero_grad(set_to_none=True), the token counts read back each step, a log line every
# log_interval steps. No TensorBoard (not installed in the venv); the tessera side writes its six
# scalars each log_interval steps.
# argv: config folder, dataset .pt, recipe JSON (batch_size, block_size, lr, epochs, warmup_ratio,
# log_interval, steps). Prints one JSON object: tokens, seconds and cpu_seconds after the first
# log interval.
import json
import math
import sys
import time

import torch
from transformers import AutoConfig, LlamaForCausalLM, get_cosine_schedule_with_warmup

config_dir, dataset_file, recipe = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
torch.set_num_threads(1)
torch.manual_seed(0)


class BlockDataset(torch.utils.data.Dataset):
    def __init__(self, data):
        self.data = data

    def __getitem__(self, i):
        return {"input_ids": self.data["input_ids"][i], "attention_mask": self.data["attention_mask"][i]}

    def __len__(self):
        return self.data["input_ids"].shape[0]


data = torch.load(dataset_file, weights_only=True)
assert data["input_ids"].shape[1] == recipe["block_size"]
dataset = BlockDataset(data)
model = LlamaForCausalLM(AutoConfig.from_pretrained(config_dir, attn_implementation="sdpa"))
loader = torch.utils.data.DataLoader(dataset, batch_size=recipe["batch_size"], shuffle=True, drop_last=True)
optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=recipe["lr"])
total_steps = min(len(loader) * recipe["epochs"], recipe["steps"])
lr_scheduler = get_cosine_schedule_with_warmup(optim, math.ceil(recipe["warmup_ratio"] * total_steps), total_steps)


def cpu():
    return time.process_time()


marks = []
interval_start = time.perf_counter()
step = 0
model.train()
for epoch in range(recipe["epochs"]):
    if step >= total_steps:
        break
    for batch in loader:
        if step >= total_steps:
            break
        input_ids = batch["input_ids"]
        attention_mask = batch["attention_mask"]
        labels = input_ids.masked_fill(attention_mask.eq(0), -100)
        outputs = model(input_ids, attention_mask=attention_mask, labels=labels, use_cache=False)
        loss = outputs.loss
        loss.backward()
        loss_value = loss.item()
        step_lr = lr_scheduler.get_last_lr()[0]
        if not math.isfinite(loss_value):
            raise SystemExit(f"step {step + 1}: the loss is {loss_value}")
        optim.step()
        model.zero_grad(set_to_none=True)
        summed_tokens, summed_non_pad, _stop = torch.tensor([input_ids.numel(), attention_mask.sum().item(), 0]).tolist()
        lr_scheduler.step()
        step += 1
        if step % recipe["log_interval"] == 0 or step == total_steps:
            now = time.perf_counter()
            seconds, interval_start = now - interval_start, now
            n = recipe["log_interval"] if step % recipe["log_interval"] == 0 else step % recipe["log_interval"]
            print(
                f"[Step {step}/{total_steps}] | Loss: {loss_value:.4f} | Duration: {seconds:.2f} s"
                f" | Throughput: {n * summed_tokens / seconds:,.0f} tokens/s | lr {step_lr:.2e}",
                file=sys.stderr,
            )
            marks.append((step, now, cpu()))

(s0, w0, c0), (s1, w1, c1) = marks[0], marks[-1]
tokens_per_step = recipe["batch_size"] * recipe["block_size"]
print(json.dumps({"tokens": (s1 - s0) * tokens_per_step, "seconds": w1 - w0, "cpu_seconds": c1 - c0}))
