// LoraConfig with PEFT's fields and defaults, and adapter_config.json as PEFT 0.21 writes it.
import { existsSync } from "node:fs";
import path from "node:path";
import { readJsonObjectFile } from "../../torch/serialization/json.js";
import { NotImplementedError, ValueError } from "../../torch/errors.js";
import { checkOptions, refuseUnsupported, type OptionNames } from "../../torch/_options.js";

export const ADAPTER_CONFIG_NAME = "adapter_config.json";
export const ADAPTER_WEIGHTS_NAME = "adapter_model.safetensors";
/** The PEFT release whose adapter format tessera writes. */
export const PEFT_VERSION = "0.21.0";

export type TaskType = "CAUSAL_LM" | "SEQ_CLS" | "SEQ_2_SEQ_LM" | "TOKEN_CLS" | "QUESTION_ANS" | "FEATURE_EXTRACTION";

export interface LoraConfigOptions {
  r?: number;
  lora_alpha?: number;
  lora_dropout?: number;
  /** Names matched by suffix (`"q_proj"` matches `model.layers.0.self_attn.q_proj`), a regex string matched in full, "all-linear", or null for the model type's default. */
  target_modules?: string[] | string | null;
  exclude_modules?: string[] | string | null;
  bias?: "none" | "all" | "lora_only";
  task_type?: TaskType | null;
  fan_in_fan_out?: boolean;
  modules_to_save?: string[] | null;
  init_lora_weights?: boolean;
  use_rslora?: boolean;
  inference_mode?: boolean;
  base_model_name_or_path?: string | null;
  revision?: string | null;
}

const LORA_OPTIONS: OptionNames<LoraConfigOptions> = {
  r: true,
  lora_alpha: true,
  lora_dropout: true,
  target_modules: true,
  exclude_modules: true,
  bias: true,
  task_type: true,
  fan_in_fan_out: true,
  modules_to_save: true,
  init_lora_weights: true,
  use_rslora: true,
  inference_mode: true,
  base_model_name_or_path: true,
  revision: true,
};

// PEFT's defaults for the keys tessera does not implement; written so Python's PEFT reads the file as its own.
const UNSUPPORTED_DEFAULTS: Record<string, unknown> = {
  auto_mapping: null,
  layers_to_transform: null,
  layers_pattern: null,
  rank_pattern: {},
  alpha_pattern: {},
  megatron_config: null,
  megatron_core: "megatron.core",
  trainable_token_indices: null,
  loftq_config: {},
  eva_config: null,
  corda_config: null,
  lora_ga_config: null,
  use_dora: false,
  velora_config: null,
  alora_invocation_tokens: null,
  use_qalora: false,
  qalora_group_size: 16,
  monteclora_config: null,
  layer_replication: null,
  lora_bias: false,
  target_parameters: null,
  use_bdlora: null,
  arrow_config: null,
  kasa_config: null,
  ensure_weight_tying: false,
};

/** PEFT's default target modules by model_type (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING). */
const DEFAULT_TARGETS: Record<string, string[]> = {
  llama: ["q_proj", "v_proj"],
  mistral: ["q_proj", "v_proj"],
  qwen2: ["q_proj", "v_proj"],
  gpt2: ["c_attn"],
  baichuan: ["W_pack"],
};

function check(ok: boolean, msg: string): void {
  if (!ok) throw new ValueError(`LoraConfig: ${msg}`);
}

/** PEFT's options tessera lacks: given at PEFT's default they change nothing; otherwise refused by name. */
function refuseUnimplemented(o: object): void {
  for (const [k, v] of Object.entries(o)) {
    if (Object.hasOwn(UNSUPPORTED_DEFAULTS, k) && JSON.stringify(v) !== JSON.stringify(UNSUPPORTED_DEFAULTS[k])) {
      throw new NotImplementedError(`LoraConfig: ${k}=${JSON.stringify(v)} is not supported by tessera's LoRA`);
    }
  }
}

export class LoraConfig {
  readonly peft_type = "LORA";
  r: number;
  lora_alpha: number;
  lora_dropout: number;
  target_modules: string[] | string | null;
  exclude_modules: string[] | string | null;
  bias: "none" | "all" | "lora_only";
  task_type: TaskType | null;
  fan_in_fan_out: boolean;
  modules_to_save: string[] | null;
  init_lora_weights: boolean;
  use_rslora: boolean;
  inference_mode: boolean;
  base_model_name_or_path: string | null;
  revision: string | null;

  constructor(o: LoraConfigOptions = {}) {
    refuseUnimplemented(o);
    checkOptions(
      "LoraConfig.__init__",
      Object.fromEntries(Object.entries(o).filter(([k]) => !Object.hasOwn(UNSUPPORTED_DEFAULTS, k))),
      LORA_OPTIONS,
    );
    this.r = o.r ?? 8;
    this.lora_alpha = o.lora_alpha ?? 8;
    this.lora_dropout = o.lora_dropout ?? 0.0;
    this.target_modules = o.target_modules ?? null;
    this.exclude_modules = o.exclude_modules ?? null;
    this.bias = o.bias ?? "none";
    this.task_type = o.task_type ?? null;
    this.fan_in_fan_out = o.fan_in_fan_out ?? false;
    this.modules_to_save = o.modules_to_save ?? null;
    this.init_lora_weights = o.init_lora_weights ?? true;
    this.use_rslora = o.use_rslora ?? false;
    this.inference_mode = o.inference_mode ?? false;
    this.base_model_name_or_path = o.base_model_name_or_path ?? null;
    this.revision = o.revision ?? null;
    check(Number.isInteger(this.r) && this.r > 0, `\`r\` should be a positive integer value but the value passed is ${this.r}`);
    check(typeof this.lora_alpha === "number" && this.lora_alpha > 0, `lora_alpha must be a positive number, got ${this.lora_alpha}`);
    check(this.lora_dropout >= 0 && this.lora_dropout < 1, `lora_dropout must be in [0, 1), got ${this.lora_dropout}`);
    refuseUnsupported("LoraConfig", "bias", this.bias, this.bias === "none", "tessera's LoRA trains no biases");
    refuseUnsupported(
      "LoraConfig",
      "modules_to_save",
      this.modules_to_save,
      this.modules_to_save === null || this.modules_to_save.length === 0,
    );
    check(
      this.target_modules === null ||
        typeof this.target_modules === "string" ||
        (Array.isArray(this.target_modules) && this.target_modules.every((t) => typeof t === "string")),
      `target_modules must be a list of names, a regex string or null, got ${JSON.stringify(this.target_modules)}`,
    );
  }

  /** rslora: alpha / √r; else alpha / r (PEFT's LoraLayer.scaling). */
  get scaling(): number {
    return this.use_rslora ? this.lora_alpha / Math.sqrt(this.r) : this.lora_alpha / this.r;
  }

  /** The target modules, or PEFT's default for `model_type` (an error when there is none). */
  resolved_target_modules(model_type: string | undefined): string[] | string {
    if (this.target_modules !== null) return this.target_modules;
    const d = model_type === undefined ? undefined : DEFAULT_TARGETS[model_type];
    if (d === undefined)
      throw new ValueError(
        `LoraConfig: please specify \`target_modules\` in \`peft_config\` (no default for model_type ${JSON.stringify(model_type)})`,
      );
    return d;
  }

  /** adapter_config.json's content: every key PEFT 0.21 writes, sorted as PEFT's json.dumps(sort_keys=True). */
  to_dict(): Record<string, unknown> {
    const own: Record<string, unknown> = {
      task_type: this.task_type,
      peft_type: this.peft_type,
      peft_version: PEFT_VERSION,
      base_model_name_or_path: this.base_model_name_or_path,
      revision: this.revision,
      inference_mode: this.inference_mode,
      r: this.r,
      target_modules: Array.isArray(this.target_modules) ? [...this.target_modules] : this.target_modules,
      exclude_modules: this.exclude_modules,
      lora_alpha: this.lora_alpha,
      lora_dropout: this.lora_dropout,
      fan_in_fan_out: this.fan_in_fan_out,
      bias: this.bias,
      use_rslora: this.use_rslora,
      modules_to_save: this.modules_to_save,
      init_lora_weights: this.init_lora_weights,
    };
    const all = { ...UNSUPPORTED_DEFAULTS, ...own };
    return Object.fromEntries(
      Object.keys(all)
        .sort()
        .map((k) => [k, all[k]]),
    );
  }

  /** Reads adapter_config.json; a LoRA feature tessera lacks (DoRA, rank patterns, ...) is an error. */
  static from_pretrained(dir: string): LoraConfig {
    const file = path.join(dir, ADAPTER_CONFIG_NAME);
    if (!existsSync(file)) throw new Error(`LoraConfig.from_pretrained: ${file} does not exist`);
    const d = readJsonObjectFile(file, "LoraConfig.from_pretrained");
    if (d.peft_type !== "LORA")
      throw new Error(`LoraConfig.from_pretrained: ${file}: peft_type ${JSON.stringify(d.peft_type)} is not LORA`);
    for (const [k, def] of Object.entries(UNSUPPORTED_DEFAULTS)) {
      if (k in d && JSON.stringify(d[k]) !== JSON.stringify(def) && k !== "megatron_core" && !(k === "loftq_config" && d[k] === null)) {
        throw new NotImplementedError(
          `LoraConfig.from_pretrained: ${file}: ${k}=${JSON.stringify(d[k])} is not supported by tessera's LoRA`,
        );
      }
    }
    // The file also holds peft_type, peft_version and keys of newer PEFT versions: only the options are read.
    return new LoraConfig(Object.fromEntries(Object.entries(d).filter(([k]) => Object.hasOwn(LORA_OPTIONS, k))) as LoraConfigOptions);
  }
}
