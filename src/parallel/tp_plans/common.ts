// What the families' tensor-parallel plans share: the output they rebuild, and the styles of a
// pre-norm decoder with a SwiGLU MLP (Llama/Mistral/Qwen2 and Baichuan2 name these modules alike).
import type { Tensor } from "../../torch/tensor.js";
import { CausalLMOutputWithPast } from "../../transformers/modeling_outputs.js";
import type { ParallelStyle } from "../executors/tensor_parallel.js";

/** Every family's causal LM returns CausalLMOutputWithPast; the plan rebuilds it with the TP loss and logits. */
export function causalLMOutput(out: unknown, loss: Tensor | null, logits: Tensor): CausalLMOutputWithPast {
  return new CausalLMOutputWithPast(loss, logits, (out as CausalLMOutputWithPast).past_key_values);
}

/** Embedding, norms, MLP and head of a Llama-style causal LM whose base model is `model`. */
export function swigluDecoderStyles(): Record<string, ParallelStyle> {
  return {
    "model.embed_tokens": { style: "vocab_embedding" },
    "model.layers.0": { style: "sequence_start" },
    "model.layers.*.input_layernorm": { style: "sequence_parallel" },
    "model.layers.*.self_attn": { style: "parallel_input" },
    "model.layers.*.self_attn.o_proj": { style: "rowwise" },
    "model.layers.*.post_attention_layernorm": { style: "sequence_parallel" },
    "model.layers.*.mlp": { style: "parallel_input" },
    "model.layers.*.mlp.gate_proj": { style: "colwise" },
    "model.layers.*.mlp.up_proj": { style: "colwise" },
    "model.layers.*.mlp.down_proj": { style: "rowwise" },
    "model.norm": { style: "sequence_parallel" },
    lm_head: { style: "vocab_head" },
  };
}
