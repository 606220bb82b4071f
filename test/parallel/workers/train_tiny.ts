// A seed-style training script under the one line, unchanged whatever the plan: a tiny Llama built
// from its config (fixed seed), a padded token dataset, AdamW with global-norm clipping, four
// steps, save_pretrained on every rank. Usage: train_tiny.ts <out dir> [dtype] [tie].
// The plan comes from TESSERA_PLAN (tessera run --plan); the job's size from TESSERA_NPROC.
// Prints one JSON line per rank: losses, gradient norms, the applied plan and the bytes this rank
// holds for weights, gradients and optimizer state.
import { torch } from "../../../src/index.js";
import { LlamaConfig, LlamaForCausalLM } from "../../../src/transformers/index.js";
import { _applied_model } from "../../../src/launch/advanced_parallelization.js";

const [outDir, dtypeName = "float32", tie = "untied", hardware = "cpu"] = process.argv.slice(2);
torch.moreh.option.enable_advanced_parallelization({ global_batch: 8, seq_len: 12, hardware });

const config = new LlamaConfig({
  vocab_size: 96,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 3,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 64,
  tie_word_embeddings: tie === "tied",
});
torch.manual_seed(0);
const dtype = dtypeName === "bfloat16" ? torch.bfloat16 : torch.float32;
const model = LlamaForCausalLM.from_config(config, { torch_dtype: dtype });

// 24 sequences of 12 tokens; the second half of the rows is padded from a row-dependent length.
const g = new torch.Generator().manual_seed(3);
const ids = torch.randint(3, 96, [24, 12], { generator: g });
const lengths = torch.arange(24).remainder(7).add(6).clamp(null, 12);
const mask = torch.arange(12).unsqueeze(0).lt(lengths.unsqueeze(1)).to(torch.int64);
const dataset = new torch.utils.data.TensorDataset(ids, mask);
const loader = new torch.utils.data.DataLoader(dataset, { batch_size: 8, shuffle: true, generator: new torch.Generator().manual_seed(5) });

const optim = new torch.optim.AdamW(model.parameters(), { lr: 1e-2 });
const bytesOf = (t: torch.Tensor | null): number => (t === null ? 0 : t.numel() * t.element_size());
// What this rank holds after the first backward: weights and gradients (as the executor keeps them)
// and, after the first step, the optimizer's state.
function measure(): { weights: number; gradients: number } {
  const sharded = _applied_model(model)?.sharded ?? null;
  if (sharded !== null) return sharded.stateBytes();
  let weights = 0;
  let gradients = 0;
  for (const p of model.parameters()) {
    weights += bytesOf(p);
    gradients += bytesOf(p.grad);
  }
  return { weights, gradients };
}
let measured = { weights: 0, gradients: 0 };
const losses: number[] = [];
const norms: number[] = [];
model.train();
for (const [input_ids, attention_mask] of loader as Iterable<torch.Tensor[]>) {
  const labels = input_ids.masked_fill(attention_mask.eq(0), -100);
  const out = model.forward(input_ids, { attention_mask, labels, use_cache: false });
  out.loss!.backward();
  if (losses.length === 0) measured = measure();
  norms.push(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0).item() as number);
  optim.step();
  optim.zero_grad();
  losses.push(out.loss!.item() as number);
}
let optimizer = 0;
for (const s of optim.state.values())
  for (const v of Object.values(s)) if (v instanceof torch.Tensor && v.dim() > 0) optimizer += bytesOf(v);
const predicted = _applied_model(model)?.evaluation?.memory ?? null;
// Reading a layer's weight outside forward: under ZeRO-3 its memory is gone, which must be an error.
let outsideRead: string;
try {
  outsideRead = String(model.model.layers[1].mlp.up_proj.weight.sum().item());
} catch (e) {
  outsideRead = (e as Error).message;
}
model.save_pretrained(outDir);
const rank = torch.distributed.is_initialized() ? torch.distributed.get_rank() : 0;
console.log(
  JSON.stringify({
    rank,
    losses,
    norms,
    plan: torch.moreh.applied_plan(),
    measured: { ...measured, optimizer },
    outsideRead,
    predicted: predicted === null ? null : { weights: predicted.weights, gradients: predicted.gradients, optimizer: predicted.optimizer },
  }),
);
