// A seed-style training script for the tensor-parallel tests, unchanged whatever the plan (from
// TESSERA_PLAN; the job's size from TESSERA_NPROC): a tiny model of one family built from its config
// (fixed seed, dropout off), a padded token dataset, SGD with momentum and global-norm clipping, three steps,
// greedy generate, save_pretrained on every rank. Usage: train_tp.ts <family> <out dir>, family one
// of llama (GQA: 4 heads, 2 k/v heads), llama-odd (vocabulary 97, tied), qwen2 (GQA with q/k/v biases), baichuan7 (RoPE),
// baichuan7-zloss (with Baichuan2's z-loss), baichuan13 (ALiBi), gpt2.
// Prints one JSON line per rank: losses, gradient norms, generated tokens, the applied plan, and the
// message bytes of each kind of collective in the second step, by group (scalars left out). Rank 0 also writes the first step's
// gradients (full tensors, by parameter name) to <out dir>/grads.safetensors when the plan keeps
// parameters whole on each DP rank (no ZeRO units).
import { mkdirSync } from "node:fs";
import path from "node:path";
import { torch } from "../../../src/index.js";
import {
  BaichuanConfig,
  BaichuanForCausalLM,
  GPT2Config,
  GPT2LMHeadModel,
  LlamaConfig,
  LlamaForCausalLM,
  Qwen2Config,
  Qwen2ForCausalLM,
  generate,
  type CausalLM,
} from "../../../src/transformers/index.js";
import { save_file } from "../../../src/safetensors.js";
import { _applied_model } from "../../../src/launch/advanced_parallelization.js";

const [family, outDir] = process.argv.slice(2);
const SEQ = 12;
torch.moreh.option.enable_advanced_parallelization({ global_batch: 8, seq_len: SEQ, hardware: "cpu" });

function build(): { model: CausalLM; vocab: number } {
  const small = { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4 };
  switch (family) {
    case "llama":
    case "llama-odd": {
      const vocab = family === "llama" ? 96 : 97;
      const config = new LlamaConfig({
        ...small,
        vocab_size: vocab,
        num_key_value_heads: 2,
        max_position_embeddings: 64,
        tie_word_embeddings: family === "llama-odd",
      });
      return { model: LlamaForCausalLM.from_config(config), vocab };
    }
    case "qwen2": {
      const config = new Qwen2Config({ ...small, vocab_size: 96, num_key_value_heads: 2, max_position_embeddings: 64 });
      return { model: Qwen2ForCausalLM.from_config(config), vocab: 96 };
    }
    case "baichuan7":
    case "baichuan7-zloss": {
      const z_loss_weight = family === "baichuan7" ? 0 : 0.01;
      return {
        model: BaichuanForCausalLM.from_config(
          new BaichuanConfig({ ...small, vocab_size: 96, max_position_embeddings: 64, z_loss_weight }),
        ),
        vocab: 96,
      };
    }
    case "baichuan13":
      return { model: BaichuanForCausalLM.from_config(new BaichuanConfig({ ...small, vocab_size: 96, model_max_length: 64 })), vocab: 96 };
    case "gpt2": {
      const config = new GPT2Config({
        vocab_size: 96,
        n_embd: 32,
        n_layer: 2,
        n_head: 4,
        n_positions: 64,
        resid_pdrop: 0,
        embd_pdrop: 0,
        attn_pdrop: 0,
      });
      return { model: GPT2LMHeadModel.from_config(config), vocab: 96 };
    }
    default:
      throw new Error(`unknown family ${family}`);
  }
}

torch.manual_seed(0);
const { model, vocab } = build();

// 24 sequences of 12 tokens; the second half of the rows is padded from a row-dependent length.
const g = new torch.Generator().manual_seed(3);
const ids = torch.randint(3, vocab, [24, SEQ], { generator: g });
const lengths = torch.arange(24).remainder(7).add(6).clamp(null, SEQ);
const mask = torch.arange(SEQ).unsqueeze(0).lt(lengths.unsqueeze(1)).to(torch.int64);
const dataset = new torch.utils.data.TensorDataset(ids, mask);
const loader = new torch.utils.data.DataLoader(dataset, { batch_size: 8, shuffle: true, generator: new torch.Generator().manual_seed(5) });
// SGD with momentum, not Adam: Adam divides each gradient by its own magnitude, so where one is
// rounding noise (GPT-2's key bias: softmax ignores a shift common to a row's scores) or tiny, the
// step follows the noise, and TP's different summation order would show in the saved weights.
const optim = new torch.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });

const dist = torch.distributed;
const world = dist.is_initialized() ? dist.get_world_size() : 1;
const rank = dist.is_initialized() ? dist.get_rank() : 0;
const plan = torch.moreh.applied_plan();
const tp = plan?.tp ?? 1;
const tpRanks = Array.from({ length: tp }, (_, i) => Math.floor(rank / tp) * tp + i);
const dpRanks = Array.from({ length: world / tp }, (_, i) => i * tp + (rank % tp));
const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
function groupKind(ranks: readonly number[]): string {
  if (same(ranks, tpRanks)) return "tp";
  if (same(ranks, dpRanks)) return "dp";
  if (ranks.every((r) => tpRanks.includes(r))) return "tp_sub";
  return `other:${ranks.join(",")}`;
}

/** The first step's gradients as full tensors by name (tensor-parallel slices gathered). */
function fullGradients(): Record<string, torch.Tensor> {
  const grads: Record<string, torch.Tensor> = {};
  for (const [name, p] of model.named_parameters()) if (p.grad !== null) grads[name] = p.grad;
  return _applied_model(model)?.tensorParallel?.fullStateDict(grads) ?? grads;
}

const traffic: Record<string, Record<string, number>> = {};
const losses: number[] = [];
const norms: number[] = [];
model.train();
for (const [step, [input_ids, attention_mask]] of [...(loader as Iterable<torch.Tensor[]>)].entries()) {
  const stop =
    step === 1
      ? dist._observe_collectives((op, bytes, pg) => {
          // Scalars (the global loss, the gradient norm) cost latency only; the planner leaves them out.
          if (bytes <= 16) return;
          const kind = groupKind(pg.ranks);
          traffic[kind] ??= {};
          traffic[kind][op] = (traffic[kind][op] ?? 0) + bytes;
          traffic[kind][`${op}#calls`] = (traffic[kind][`${op}#calls`] ?? 0) + 1;
        })
      : null;
  const labels = input_ids.masked_fill(attention_mask.eq(0), -100);
  const out = model.forward(input_ids, { attention_mask, labels, use_cache: false });
  out.loss!.backward();
  if (step === 0 && _applied_model(model)?.sharded == null) {
    const grads = fullGradients();
    if (rank === 0) {
      mkdirSync(outDir, { recursive: true });
      save_file(Object.fromEntries(Object.entries(grads).map(([k, v]) => [k, v.contiguous()])), path.join(outDir, "grads.safetensors"));
    }
  }
  norms.push(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0).item() as number);
  optim.step();
  optim.zero_grad();
  stop?.();
  losses.push(out.loss!.item() as number);
}

model.eval();
// Saved before generating: an eval forward of Baichuan2 normalises its head's rows in place.
model.save_pretrained(outDir);
// Eight prompt tokens split over 2 or 4 ranks (sequence parallel in the prefill); then one at a time.
const prompt = torch.randint(3, vocab, [1, 8], { generator: new torch.Generator().manual_seed(7) });
const tokens = torch
  .no_grad(() => generate(model, prompt, { max_new_tokens: 6, do_sample: false, pad_token_id: 0 }))
  .tolist() as number[][];
console.log(JSON.stringify({ rank, losses, norms, tokens: tokens[0], plan, traffic }));
