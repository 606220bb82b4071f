// Tensor parallelism for GPT-2: c_attn (q|k|v fused, Conv1D [in, out]) split per block by heads,
// c_fc column-parallel, both c_proj row-parallel, the tied wte / lm_head vocab-parallel. The
// position embedding stays replicated. Each attention gets its rank's q/k/v width, each Conv1D
// its slice's sizes.
import { Conv1D, GPT2Attention, type GPT2LMHeadModel } from "../../transformers/models/gpt2/modeling_gpt2.js";
import type { TensorParallelPlan } from "../executors/tensor_parallel.js";
import { causalLMOutput } from "./common.js";

export function gpt2Plan(model: GPT2LMHeadModel): TensorParallelPlan {
  const c = model.config;
  return {
    modules: {
      "transformer.wte": { style: "vocab_embedding" },
      "transformer.h.0": { style: "sequence_start" },
      "transformer.h.*.ln_1": { style: "sequence_parallel" },
      "transformer.h.*.attn": { style: "parallel_input" },
      "transformer.h.*.attn.c_attn": { style: "colwise", layout: "conv1d", fused: 3 },
      "transformer.h.*.attn.c_proj": { style: "rowwise", layout: "conv1d" },
      "transformer.h.*.ln_2": { style: "sequence_parallel" },
      "transformer.h.*.mlp": { style: "parallel_input" },
      "transformer.h.*.mlp.c_fc": { style: "colwise", layout: "conv1d" },
      "transformer.h.*.mlp.c_proj": { style: "rowwise", layout: "conv1d" },
      "transformer.ln_f": { style: "sequence_parallel" },
      lm_head: { style: "vocab_head" },
    },
    heads: c.n_head,
    kvHeads: c.n_head,
    headDim: c.n_embd / c.n_head,
    vocab: c.vocab_size,
    zLossWeight: 0,
    localize(m, { size }) {
      for (const a of m.modules()) {
        if (a instanceof GPT2Attention) a.split_size = c.n_embd / size;
        if (a instanceof Conv1D) Object.assign(a, { nx: a.weight.size(0), nf: a.weight.size(1) });
      }
    },
    output: causalLMOutput,
  };
}
