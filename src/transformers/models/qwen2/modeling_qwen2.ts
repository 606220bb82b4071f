// Qwen2: Llama's decoder with q/k/v biases (no o_proj bias) and per-layer sliding windows.
import { LlamaForCausalLM, type LlamaVariant } from "../llama/modeling_llama.js";
import type { LlamaConfig } from "../llama/configuration_llama.js";
import { Qwen2Config } from "./configuration_qwen2.js";

export class Qwen2ForCausalLM extends LlamaForCausalLM {
  static override config_class: new (d: Record<string, unknown>) => LlamaConfig = Qwen2Config;

  static override variant(config: LlamaConfig): LlamaVariant {
    const { layer_types, sliding_window } = config as Qwen2Config;
    return { qkv_bias: true, o_bias: false, sliding_window: (i) => (layer_types[i] === "sliding_attention" ? sliding_window : null) };
  }
}
