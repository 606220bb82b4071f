// A seed-style training script under the one line, unchanged whatever the plan (pipeline plans in
// test/parallel/pp_equivalence.test.ts): a tiny Llama (tied embeddings) or Baichuan2 (ALiBi, z-loss)
// built from its config (fixed seed), AdamW with global-norm clipping, three steps of
// `model(batch, { labels }) / loss.backward() / step`, then an evaluation forward under no_grad,
// greedy generate, and save_pretrained on every rank.
// Usage: train_pp.ts <out dir> <llama|baichuan> <layers> [loss divisor, or "scaler" for a GradScaler] [adamw|sgd]
// Prints one JSON line per rank: losses, gradient norms, evaluation loss, generated ids, the
// applied plan and the pipeline's measurements of each step.
import { torch } from "../../../src/index.js";
import {
  BaichuanConfig,
  BaichuanForCausalLM,
  LlamaConfig,
  LlamaForCausalLM,
  type PreTrainedModel,
} from "../../../src/transformers/index.js";
import { generate } from "../../../src/transformers/generation/index.js";
import { _applied_model } from "../../../src/launch/advanced_parallelization.js";

const [outDir, family = "llama", layers = "4", divisor = "1", optimizer = "adamw"] = process.argv.slice(2);
torch.moreh.option.enable_advanced_parallelization({ global_batch: 8, seq_len: 12, hardware: "cpu" });

const shape = { vocab_size: 96, hidden_size: 32, intermediate_size: 64, num_hidden_layers: Number(layers), num_attention_heads: 4 };
torch.manual_seed(0);
const model: PreTrainedModel =
  family === "baichuan"
    ? BaichuanForCausalLM.from_config(new BaichuanConfig({ ...shape, model_max_length: 64, z_loss_weight: 1e-3 }))
    : LlamaForCausalLM.from_config(
        new LlamaConfig({ ...shape, num_key_value_heads: 2, max_position_embeddings: 64, tie_word_embeddings: true }),
      );

// 24 sequences of 12 tokens; Llama's later rows are padded from a row-dependent length (Baichuan2's
// z-loss averages over every position, so its rows are not padded).
const g = new torch.Generator().manual_seed(3);
const ids = torch.randint(3, 96, [24, 12], { generator: g });
const lengths = family === "baichuan" ? torch.full([24], 12, { dtype: torch.int64 }) : torch.arange(24).remainder(7).add(6).clamp(null, 12);
const mask = torch.arange(12).unsqueeze(0).lt(lengths.unsqueeze(1)).to(torch.int64);
const loader = new torch.utils.data.DataLoader(new torch.utils.data.TensorDataset(ids, mask), {
  batch_size: 8,
  shuffle: true,
  generator: new torch.Generator().manual_seed(5),
});

// SGD's update is the gradient itself: saved weights then compare gradients tensor by tensor.
const optim =
  optimizer === "sgd" ? new torch.optim.SGD(model.parameters(), { lr: 0.5 }) : new torch.optim.AdamW(model.parameters(), { lr: 1e-2 });
const scaler = divisor === "scaler" ? new torch.amp.GradScaler("cpu", { init_scale: 1024 }) : null;
const losses: number[] = [];
const norms: number[] = [];
const stats: unknown[] = [];
model.train();
for (const [input_ids, attention_mask] of loader as Iterable<torch.Tensor[]>) {
  const labels = input_ids.masked_fill(attention_mask.eq(0), -100);
  const out = model.forward(input_ids, { attention_mask, labels, use_cache: false }) as { loss: torch.Tensor };
  if (scaler === null) {
    out.loss.div(Number(divisor)).backward();
    norms.push(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0).item() as number);
    optim.step();
  } else {
    scaler.scale(out.loss).backward();
    scaler.unscale_(optim);
    norms.push(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0).item() as number);
    scaler.step(optim);
    scaler.update();
  }
  optim.zero_grad();
  losses.push(out.loss.item() as number);
  stats.push(_applied_model(model)?.pipeline?.stats ?? null);
}
model.eval();
const evalIds = ids.narrow(0, 0, 3);
const evalOut = torch.no_grad(() => model.forward(evalIds, { attention_mask: mask.narrow(0, 0, 3), labels: evalIds })) as {
  loss: torch.Tensor;
  logits: torch.Tensor;
};
const generated = generate(model, evalIds.narrow(1, 0, 5), { max_new_tokens: 4, do_sample: false }).tolist();
model.save_pretrained(outDir);
const rank = torch.distributed.is_initialized() ? torch.distributed.get_rank() : 0;
console.log(
  JSON.stringify({
    rank,
    losses,
    norms,
    stats,
    plan: torch.moreh.applied_plan(),
    parameters: [...model.parameters()].reduce((n, p) => n + p.numel(), 0),
    eval: { loss: evalOut.loss.item(), logits: evalOut.logits.abs().sum().item(), shape: evalOut.logits.shape },
    generated,
  }),
);
