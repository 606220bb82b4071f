// tessera/transformers: `import { AutoTokenizer } from "tessera/transformers"`.
export * from "./tokenization/index.js";
export { get_linear_schedule_with_warmup, get_cosine_schedule_with_warmup } from "./optimization.js";
export { PretrainedConfig, GenerationConfig } from "./configuration_utils.js";
export {
  PreTrainedModel,
  type CausalLM,
  type CausalLMForwardOptions,
  type FromPretrainedOptions,
  type SavePretrainedOptions,
} from "./modeling_utils.js";
export { ModelOutput, BaseModelOutputWithPast, CausalLMOutputWithPast } from "./modeling_outputs.js";
export { DynamicCache } from "./cache_utils.js";
export * from "./hub/index.js";
export * from "./models/index.js";
export * from "./generation/index.js";
export * from "./peft/index.js";
export * from "./trainer_log/index.js";
