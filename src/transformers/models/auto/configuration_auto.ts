// AutoConfig: the config class named by config.json's `model_type`.
import { ValueError } from "../../../torch/errors.js";
import { configFromFolder, type ConfigDict, type PretrainedConfig } from "../../configuration_utils.js";
import { LlamaConfig } from "../llama/configuration_llama.js";
import { MistralConfig } from "../mistral/configuration_mistral.js";
import { Qwen2Config } from "../qwen2/configuration_qwen2.js";
import { BaichuanConfig } from "../baichuan/configuration_baichuan.js";
import { GPT2Config } from "../gpt2/configuration_gpt2.js";
import { resolve_pretrained_folder, type HubOptions } from "../../hub/index.js";
import { rememberSource } from "../../remote_code.js";
import { checkOptions } from "../../../torch/_options.js";

export const CONFIG_MAPPING: ReadonlyMap<string, new (d: ConfigDict) => PretrainedConfig> = new Map<
  string,
  new (d: ConfigDict) => PretrainedConfig
>([
  ["llama", LlamaConfig],
  ["mistral", MistralConfig],
  ["qwen2", Qwen2Config],
  ["baichuan", BaichuanConfig],
  ["gpt2", GPT2Config],
]);

/** The registered model_type of a config dict, with errors that name `where` and the choices. */
export function modelTypeOf(d: ConfigDict, where: string): string {
  const t = d.model_type;
  const supported = [...CONFIG_MAPPING.keys()].join(", ");
  if (typeof t !== "string") throw new ValueError(`${where} has no "model_type" (supported: ${supported})`);
  if (!CONFIG_MAPPING.has(t)) throw new ValueError(`${where}: model_type ${JSON.stringify(t)} is not supported (supported: ${supported})`);
  return t;
}

export class AutoConfig {
  /** The config of a folder or hub id; `trust_remote_code` as in FromPretrainedOptions. */
  static from_pretrained(name_or_path: string, options: HubOptions & { trust_remote_code?: boolean } = {}): PretrainedConfig {
    checkOptions("AutoConfig.from_pretrained", options, {
      revision: true,
      cache_dir: true,
      local_files_only: true,
      token: true,
      trust_remote_code: true,
    });
    const dir = resolve_pretrained_folder(name_or_path, options, "AutoConfig.from_pretrained");
    return rememberSource(
      configFromFolder(dir, (d) => AutoConfig.for_model(modelTypeOf(d, `${dir}/config.json`), d)),
      dir,
    );
  }

  static for_model(model_type: string, kwargs: ConfigDict = {}): PretrainedConfig {
    modelTypeOf({ model_type }, "AutoConfig.for_model");
    const cls = CONFIG_MAPPING.get(model_type)!;
    return new cls(kwargs);
  }
}
