// Tensor parallelism for Llama, Mistral and Qwen2 (LlamaForCausalLM and its subclasses), as
// torchtitan's parallelize_llama: q/k/v column-parallel by heads (k/v replicated when fewer than
// the ranks), o_proj row-parallel, the SwiGLU MLP split by its intermediate features. The attention
// reads its head counts off its projections' outputs, so no count needs setting.
import type { LlamaForCausalLM } from "../../transformers/models/llama/modeling_llama.js";
import type { TensorParallelPlan } from "../executors/tensor_parallel.js";
import { causalLMOutput, swigluDecoderStyles } from "./common.js";

export function llamaPlan(model: LlamaForCausalLM): TensorParallelPlan {
  const c = model.config;
  return {
    modules: {
      ...swigluDecoderStyles(),
      "model.layers.*.self_attn.q_proj": { style: "colwise" },
      "model.layers.*.self_attn.k_proj": { style: "colwise", heads: "kv" },
      "model.layers.*.self_attn.v_proj": { style: "colwise", heads: "kv" },
    },
    heads: c.num_attention_heads,
    kvHeads: c.num_key_value_heads,
    headDim: c.head_dim,
    vocab: c.vocab_size,
    zLossWeight: 0,
    localize: () => undefined,
    output: causalLMOutput,
  };
}
