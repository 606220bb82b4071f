// get_peft_model / PeftModel / LoraModel as PEFT: PeftModel.base_model is a LoraModel whose `model`
// is the user's model with its targeted Linear layers wrapped in LoraLinear; everything but the
// adapters is frozen. Adapters are saved and loaded in PEFT's format (adapter name stripped from keys).
import { ValueError } from "../../torch/errors.js";
import { writeFileSync } from "node:fs";
import path from "node:path";
import * as torch from "../../torch/index.js";
import type { Tensor } from "../../torch/tensor.js";
import { Linear, Module, ModuleDict, type StateDict } from "../../torch/nn/index.js";
import { load_file, save_file } from "../../torch/serialization/index.js";
import { saveFolder } from "../../torch/serialization/folder.js";
import { ownsAdapterFile } from "../saved_files.js";
import { Conv1D } from "../models/gpt2/modeling_gpt2.js";
import type { GenerateOptions } from "../generation/utils.js";
import { ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME, LoraConfig } from "./config.js";
import { LoraLinear, type LoraTarget } from "./layer.js";
import { checkOptions } from "../../torch/_options.js";

/** What PEFT needs of the wrapped model: a forward, and optionally config/generate. */
export interface PeftBase extends Module {
  config?: object;
  get_output_embeddings?(): Module | null;
  generate?(input_ids: Tensor, options?: GenerateOptions): Tensor;
}

function isTarget(m: Module): m is LoraTarget {
  return m instanceof Linear || m instanceof Conv1D;
}

/** PEFT's check_target_module_exists: a list matches exact names or `.suffix`; a string is a full-match regex. */
function matches(targets: string[] | string, key: string): boolean {
  if (typeof targets === "string") return new RegExp(`^(?:${targets})$`).test(key);
  return targets.some((t) => key === t || key.endsWith(`.${t}`));
}

function excluded(exclude: string[] | string | null, key: string): boolean {
  return exclude !== null && matches(exclude, key);
}

function setChild(parent: Module, name: string, child: Module): void {
  if (parent instanceof ModuleDict) parent.set(name, child);
  else (parent as unknown as Record<string, Module>)[name] = child;
}

function parentOf(root: Module, key: string): [Module, string] {
  const dot = key.lastIndexOf(".");
  return [root.get_submodule(dot < 0 ? "" : key.slice(0, dot)), key.slice(dot + 1)];
}

export class LoraModel extends Module {
  model: PeftBase;
  readonly peft_config: Record<string, LoraConfig> = {};

  constructor(model: PeftBase, config: LoraConfig, adapter_name = "default") {
    super();
    this.model = model;
    this.peft_config[adapter_name] = config;
    this.inject_adapter(config, adapter_name);
  }

  private inject_adapter(config: LoraConfig, adapter_name: string): void {
    const modelType = (this.model.config as { model_type?: unknown } | undefined)?.model_type;
    let targets = config.resolved_target_modules(typeof modelType === "string" ? modelType : undefined);
    const output = this.model.get_output_embeddings?.() ?? null;
    const keys: string[] = [];
    const linearNames = new Set<string>();
    for (const [key, m] of this.model.named_modules()) {
      if (!isTarget(m)) continue;
      linearNames.add(key.slice(key.lastIndexOf(".") + 1));
      // "all-linear": every Linear but the output layer, as PEFT.
      const hit = targets === "all-linear" ? m !== output : matches(targets, key);
      if (hit && !excluded(config.exclude_modules, key)) keys.push(key);
    }
    if (keys.length === 0) {
      const shown = typeof targets === "string" ? JSON.stringify(targets) : `{${targets.map((t) => `'${t}'`).join(", ")}}`;
      throw new ValueError(
        `Target modules ${shown} not found in the base model. Please check the target modules and try again. ` +
          `(The model's Linear layers are named: ${[...linearNames].join(", ") || "none"}.)`,
      );
    }
    if (targets === "all-linear") targets = keys;
    const opts = {
      r: config.r,
      lora_alpha: config.lora_alpha,
      lora_dropout: config.lora_dropout,
      scaling: config.scaling,
      fan_in_fan_out: config.fan_in_fan_out,
      init_lora_weights: config.init_lora_weights,
    };
    for (const key of keys) {
      const [parent, name] = parentOf(this.model, key);
      const target = parent.get_submodule(name);
      if (target instanceof LoraLinear) target.update_layer(adapter_name, opts);
      else if (isTarget(target)) setChild(parent, name, new LoraLinear(target, adapter_name, opts));
    }
    // Only the adapters train (PEFT's _mark_only_adapters_as_trainable with bias="none").
    for (const [n, p] of this.model.named_parameters()) p.requires_grad_(n.includes("lora_"));
  }

  override forward(...args: unknown[]): unknown {
    return this.model.forward(...args);
  }

  /** Merges every adapter into its base weight and puts the plain base layers back; returns the model. */
  merge_and_unload(): PeftBase {
    for (const [key, m] of [...this.model.named_modules()]) {
      if (!(m instanceof LoraLinear)) continue;
      m.merge();
      const [parent, name] = parentOf(this.model, key);
      setChild(parent, name, m.base_layer);
    }
    return this.model;
  }
}

export interface PeftFromPretrainedOptions {
  adapter_name?: string;
  /** false (PEFT's default): the adapter is frozen and the model in eval mode. */
  is_trainable?: boolean;
}

export class PeftModel extends Module {
  base_model: LoraModel;
  readonly active_adapter: string;

  constructor(model: PeftBase, config: LoraConfig, adapter_name = "default") {
    super();
    this.base_model = new LoraModel(model, config, adapter_name);
    this.active_adapter = adapter_name;
  }

  get peft_config(): Record<string, LoraConfig> {
    return this.base_model.peft_config;
  }

  override forward(...args: unknown[]): unknown {
    return this.base_model.model.forward(...args);
  }

  /** The wrapped model's generate (its targeted layers already carry the adapter). */
  generate(input_ids: Tensor, options: GenerateOptions = {}): Tensor {
    const m = this.base_model.model;
    if (typeof m.generate !== "function") throw new Error(`PeftModel.generate: the base model (${m.constructor.name}) has no generate()`);
    return m.generate(input_ids, options);
  }

  get_base_model(): PeftBase {
    return this.base_model.model;
  }

  /** [trainable, all] parameter counts, as PEFT's get_nb_trainable_parameters. */
  get_nb_trainable_parameters(): [number, number] {
    let trainable = 0;
    let all = 0;
    for (const p of this.parameters()) {
      all += p.numel();
      if (p.requires_grad) trainable += p.numel();
    }
    return [trainable, all];
  }

  /** Prints "trainable params: N || all params: M || trainable%: P" exactly as PEFT. */
  print_trainable_parameters(): void {
    const [trainable, all] = this.get_nb_trainable_parameters();
    const fmt = (n: number): string => n.toLocaleString("en-US");
    console.log(`trainable params: ${fmt(trainable)} || all params: ${fmt(all)} || trainable%: ${((100 * trainable) / all).toFixed(4)}`);
  }

  /** The adapter's weights under PEFT's saved names (`...q_proj.lora_A.weight`, adapter name removed). */
  adapter_state_dict(adapter_name = this.active_adapter): StateDict {
    const out: StateDict = {};
    const tag = `.${adapter_name}`;
    for (const [k, v] of Object.entries(this.state_dict())) {
      if (!k.includes("lora_") || !k.includes(`${tag}.`)) continue;
      out[k.replace(tag, "")] = v;
    }
    return out;
  }

  /** Writes adapter_config.json and adapter_model.safetensors as PEFT's save_pretrained. */
  save_pretrained(save_directory: string): void {
    const sd = this.adapter_state_dict();
    for (const k of Object.keys(sd)) sd[k] = sd[k].contiguous();
    const config = this.peft_config[this.active_adapter];
    const d = config.to_dict();
    // PEFT saves with inference_mode set, and names the base model when it knows it.
    d.inference_mode = true;
    const nameOrPath = (this.base_model.model.config as { _name_or_path?: unknown } | undefined)?._name_or_path;
    if (d.base_model_name_or_path === null && typeof nameOrPath === "string" && nameOrPath !== "") d.base_model_name_or_path = nameOrPath;
    // Written beside the folder and swapped in whole; the folder's other files (a base model) stay.
    saveFolder(save_directory, { owns: ownsAdapterFile }, (staging) => {
      save_file(sd, path.join(staging, ADAPTER_WEIGHTS_NAME), { format: "pt" });
      writeFileSync(path.join(staging, ADAPTER_CONFIG_NAME), `${JSON.stringify(d, null, 2)}`);
    });
  }

  /** Wraps `model` with the adapter saved in `dir` (by PEFT or tessera). */
  static from_pretrained(model: PeftBase, dir: string, options: PeftFromPretrainedOptions = {}): PeftModel {
    checkOptions("PeftModel.from_pretrained", options, { adapter_name: true, is_trainable: true });
    const { adapter_name = "default", is_trainable = false } = options;
    const config = LoraConfig.from_pretrained(dir);
    config.inference_mode = !is_trainable;
    const peft = new PeftModel(model, config, adapter_name);
    peft.load_adapter_weights(path.join(dir, ADAPTER_WEIGHTS_NAME), adapter_name);
    if (!is_trainable) {
      for (const p of peft.parameters()) p.requires_grad_(false);
      peft.eval();
    }
    return peft;
  }

  private load_adapter_weights(file: string, adapter_name: string): void {
    const saved = load_file(file);
    const own = this.state_dict();
    const renamed: StateDict = {};
    const unexpected: string[] = [];
    for (const [k, v] of Object.entries(saved)) {
      // PEFT's set_peft_model_state_dict: `lora_A.weight` -> `lora_A.<adapter>.weight`.
      const key = k.replace(/\.(lora_[AB])\./, `.$1.${adapter_name}.`);
      if (key in own) renamed[key] = v;
      else unexpected.push(k);
    }
    const missing = Object.keys(own).filter((k) => k.includes(`.${adapter_name}.`) && k.includes("lora_") && !(k in renamed));
    if (unexpected.length || missing.length) {
      throw new Error(
        `PeftModel.from_pretrained: ${file} does not fit the model: ` +
          (unexpected.length ? `unexpected keys ${unexpected.slice(0, 5).join(", ")}${unexpected.length > 5 ? ", ..." : ""}; ` : "") +
          (missing.length ? `missing keys ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", ..." : ""}` : ""),
      );
    }
    this.load_state_dict(renamed, false);
  }

  /** Merges the adapters into the base weights and returns the base model with plain layers. */
  merge_and_unload(): PeftBase {
    return this.base_model.merge_and_unload();
  }
}

/** Wraps `model` for LoRA training: targeted layers get adapters, everything else is frozen. */
export function get_peft_model(model: PeftBase, peft_config: LoraConfig, adapter_name = "default"): PeftModel {
  if (!(peft_config instanceof LoraConfig)) throw new TypeError("get_peft_model: peft_config must be a LoraConfig");
  if (!(model instanceof Module)) throw new TypeError("get_peft_model: model must be an nn.Module");
  return new PeftModel(model, peft_config, adapter_name);
}
