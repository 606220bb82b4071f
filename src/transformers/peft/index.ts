// tessera/transformers PEFT: LoRA adapters in PEFT's format.
export { LoraConfig, ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME, type LoraConfigOptions, type TaskType } from "./config.js";
export { LoraLinear, type LoraLayerOptions } from "./layer.js";
export { LoraModel, PeftModel, get_peft_model, type PeftBase, type PeftFromPretrainedOptions } from "./peft_model.js";
