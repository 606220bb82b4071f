// AutoModelForCausalLM: the causal-LM class of a config's model_type.
import { ValueError } from "../../../torch/errors.js";
import type { PretrainedConfig } from "../../configuration_utils.js";
import { FROM_PRETRAINED_OPTIONS, type CausalLM, type FromPretrainedOptions } from "../../modeling_utils.js";
import { checkOptions } from "../../../torch/_options.js";
import { LlamaForCausalLM } from "../llama/modeling_llama.js";
import { MistralForCausalLM } from "../mistral/modeling_mistral.js";
import { Qwen2ForCausalLM } from "../qwen2/modeling_qwen2.js";
import { BaichuanForCausalLM } from "../baichuan/modeling_baichuan.js";
import { GPT2LMHeadModel } from "../gpt2/modeling_gpt2.js";
import { resolve_pretrained_folder } from "../../hub/index.js";
import { AutoConfig } from "./configuration_auto.js";

interface CausalLMClass {
  readonly name: string;
  from_pretrained(dir: string, options?: FromPretrainedOptions): CausalLM;
  from_config(config: never, options?: FromPretrainedOptions): CausalLM;
}

export const MODEL_FOR_CAUSAL_LM_MAPPING: ReadonlyMap<string, CausalLMClass> = new Map<string, CausalLMClass>([
  ["llama", LlamaForCausalLM],
  ["mistral", MistralForCausalLM],
  ["qwen2", Qwen2ForCausalLM],
  ["baichuan", BaichuanForCausalLM],
  ["gpt2", GPT2LMHeadModel],
]);

function modelClass(config: PretrainedConfig): CausalLMClass {
  const cls = MODEL_FOR_CAUSAL_LM_MAPPING.get(config.model_type);
  if (cls === undefined) {
    throw new ValueError(
      `AutoModelForCausalLM: model_type ${JSON.stringify(config.model_type)} is not supported (supported: ${[...MODEL_FOR_CAUSAL_LM_MAPPING.keys()].join(", ")})`,
    );
  }
  return cls;
}

export class AutoModelForCausalLM {
  /** Reads config.json of a folder or hub id, picks the class by model_type, and loads the weights. */
  static from_pretrained(name_or_path: string, options: FromPretrainedOptions = {}): CausalLM {
    checkOptions("AutoModelForCausalLM.from_pretrained", options, FROM_PRETRAINED_OPTIONS);
    const dir = resolve_pretrained_folder(name_or_path, options, "AutoModelForCausalLM.from_pretrained");
    return modelClass(AutoConfig.from_pretrained(dir)).from_pretrained(dir, options);
  }

  /** A randomly initialised model of the config's family. */
  static from_config(config: PretrainedConfig, options: FromPretrainedOptions = {}): CausalLM {
    checkOptions("AutoModelForCausalLM.from_config", options, FROM_PRETRAINED_OPTIONS);
    return modelClass(config).from_config(config as never, options);
  }
}
