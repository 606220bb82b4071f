export { AutoConfig, CONFIG_MAPPING } from "./configuration_auto.js";
export { AutoModelForCausalLM, MODEL_FOR_CAUSAL_LM_MAPPING } from "./modeling_auto.js";
