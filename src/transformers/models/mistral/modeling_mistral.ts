// Mistral: Llama's decoder without biases, every layer attending within `sliding_window` tokens.
import { LlamaForCausalLM, type LlamaVariant } from "../llama/modeling_llama.js";
import type { LlamaConfig } from "../llama/configuration_llama.js";
import { MistralConfig } from "./configuration_mistral.js";

export class MistralForCausalLM extends LlamaForCausalLM {
  static override config_class: new (d: Record<string, unknown>) => LlamaConfig = MistralConfig;

  static override variant(config: LlamaConfig): LlamaVariant {
    const window = (config as MistralConfig).sliding_window ?? null;
    return { qkv_bias: false, o_bias: false, sliding_window: () => window };
  }
}
