// Tensor parallelism for Baichuan2 (7B with RoPE, 13B with ALiBi): the fused W_pack is split per
// q/k/v block by heads, o_proj row-parallel, the MLP as Llama's. Each attention gets its rank's
// width of q, k and v, and the model keeps the ALiBi slopes of its rank's heads.
import { BaichuanAttention, type BaichuanForCausalLM, type NormHead } from "../../transformers/models/baichuan/modeling_baichuan.js";
import type { TensorParallelPlan } from "../executors/tensor_parallel.js";
import { causalLMOutput, swigluDecoderStyles } from "./common.js";

export function baichuanPlan(model: BaichuanForCausalLM): TensorParallelPlan {
  const c = model.config;
  const heads = c.num_attention_heads;
  return {
    modules: {
      ...swigluDecoderStyles(),
      "model.layers.*.self_attn.W_pack": { style: "colwise", fused: 3 },
      lm_head: { style: "vocab_head", weight: (m) => (m as NormHead).linear_weight() },
    },
    heads,
    kvHeads: heads,
    headDim: c.hidden_size / heads,
    vocab: c.vocab_size,
    zLossWeight: c.z_loss_weight,
    localize(m, { size, rank }) {
      for (const a of m.modules()) if (a instanceof BaichuanAttention) a.hidden_size = c.hidden_size / size;
      const base = (m as BaichuanForCausalLM).model;
      const per = heads / size;
      if (base.slopes.length > 0) base.slopes = base.slopes.slice(rank * per, (rank + 1) * per);
    },
    output: causalLMOutput,
  };
}
