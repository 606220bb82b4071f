// The model families and the Auto classes.
export * from "./auto/index.js";
export { LlamaConfig, type RopeParameters } from "./llama/configuration_llama.js";
export { LlamaForCausalLM, LlamaModel } from "./llama/modeling_llama.js";
export { MistralConfig } from "./mistral/configuration_mistral.js";
export { MistralForCausalLM } from "./mistral/modeling_mistral.js";
export { Qwen2Config } from "./qwen2/configuration_qwen2.js";
export { Qwen2ForCausalLM } from "./qwen2/modeling_qwen2.js";
export { BaichuanConfig } from "./baichuan/configuration_baichuan.js";
export { BaichuanForCausalLM, BaichuanModel, NormHead } from "./baichuan/modeling_baichuan.js";
export { GPT2Config } from "./gpt2/configuration_gpt2.js";
export { GPT2LMHeadModel, GPT2Model, Conv1D } from "./gpt2/modeling_gpt2.js";
