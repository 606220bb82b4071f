// PreTrainedModel: config, weight init (HF's _init_weights), tied embeddings, and checkpoints.
// from_pretrained builds the module on the meta device (no memory, no init), then reads the
// checkpoint one tensor at a time under its own name, converting each to the target dtype/device
// and putting it in place — so a checkpoint never exists twice in memory, nor in fp32 on the way.
import { RuntimeError, ValueError } from "../torch/errors.js";
import { checkOptions, type OptionNames } from "../torch/_options.js";
import { existsSync } from "node:fs";
import path from "node:path";
import * as torch from "../torch/index.js";
import type { RemovableHandle, Tensor } from "../torch/tensor.js";
import type { dtype } from "../torch/dtype.js";
import type { DeviceLike } from "../torch/device.js";
import { Module, ModuleList, Parameter, Linear, Embedding, LayerNorm, RMSNorm, type FactoryOptions } from "../torch/nn/index.js";
import { isKwargs } from "../torch/_invoke.js";
import { _logical_numel } from "../torch/distributed/_sharding.js";
import { _checkpoint_module, type CheckpointOptions } from "../torch/utils/checkpoint.js";
import { safe_open, save_torch_state_dict, load, SafeOpen } from "../torch/serialization/index.js";
import { saveFolder } from "../torch/serialization/folder.js";
import { ownsModelFile } from "./saved_files.js";
import { checkModelFits } from "./model_size.js";
import type { DynamicCache } from "./cache_utils.js";
import { resolve_pretrained_folder, type HubOptions } from "./hub/index.js";
import { rememberSource } from "./remote_code.js";
import type { CausalLMOutputWithPast } from "./modeling_outputs.js";
import { GenerationConfig, GENERATION_CONFIG_NAME, PretrainedConfig, configFromFolder, readJsonObject } from "./configuration_utils.js";

export const SAFE_WEIGHTS_NAME = "model.safetensors";
export const SAFE_WEIGHTS_INDEX_NAME = "model.safetensors.index.json";
export const WEIGHTS_NAME = "pytorch_model.bin";
export const WEIGHTS_INDEX_NAME = "pytorch_model.bin.index.json";

/** `torch_dtype`: a dtype, its name, or "auto" (the checkpoint config's dtype, else float32). */
export type TorchDtypeArg = dtype | string;

/**
 * from_pretrained's options. A hub id ("org/name") is found in the Hugging Face cache or downloaded into it
 * (HubOptions). `trust_remote_code` is accepted for Python's spelling: tessera runs its own implementation
 * of the families it supports, and a folder's remote-code files are kept by save_pretrained.
 */
export interface FromPretrainedOptions extends HubOptions {
  trust_remote_code?: boolean;
  torch_dtype?: TorchDtypeArg;
  dtype?: TorchDtypeArg;
  device?: DeviceLike;
}

export const FROM_PRETRAINED_OPTIONS: OptionNames<FromPretrainedOptions> = {
  revision: true,
  cache_dir: true,
  local_files_only: true,
  token: true,
  trust_remote_code: true,
  torch_dtype: true,
  dtype: true,
  device: true,
};

/** The keyword arguments of every causal LM's forward. */
export interface CausalLMForwardOptions {
  attention_mask?: Tensor | null;
  position_ids?: Tensor | null;
  past_key_values?: DynamicCache | null;
  inputs_embeds?: Tensor | null;
  labels?: Tensor | null;
  use_cache?: boolean;
}

export const CAUSAL_LM_FORWARD_OPTIONS: OptionNames<CausalLMForwardOptions> = {
  attention_mask: true,
  position_ids: true,
  past_key_values: true,
  inputs_embeds: true,
  labels: true,
  use_cache: true,
};

/** A loaded causal LM, whatever its family: `model.forward(input_ids, opts)` gives loss and logits. */
export interface CausalLM extends PreTrainedModel {
  forward(input_ids: Tensor | null, opts?: CausalLMForwardOptions): CausalLMOutputWithPast;
}

export interface SavePretrainedOptions {
  max_shard_size?: number | string;
  safe_serialization?: boolean;
  /** Whether this process writes (HF's name). Default: rank 0 of a job, which then waits for every rank. */
  is_main_process?: boolean;
}

export interface GradientCheckpointingOptions {
  /** Options of torch.utils.checkpoint.checkpoint for each layer (default `{ use_reentrant: true }`). */
  gradient_checkpointing_kwargs?: CheckpointOptions | null;
  /** Checkpoints only every n-th decoder layer, the rest keep their activations (default 1: all). */
  every_n_layers?: number;
}

/** The constructor shape every model class has: `new Model(config, {device, dtype})`. */
export type ModelClass<M extends PreTrainedModel, C extends PretrainedConfig> = (new (config: C, factory?: FactoryOptions) => M) & {
  config_class: new (d: Record<string, unknown>) => C;
};

export function dtypeByName(name: string): dtype {
  const d = (torch as unknown as Record<string, unknown>)[name.replace(/^torch\./, "")];
  if (!(d instanceof torch.dtype)) throw new ValueError(`unknown dtype ${JSON.stringify(name)}`);
  return d;
}

function resolveDtype(arg: TorchDtypeArg | undefined, config: PretrainedConfig): dtype {
  if (arg === undefined || arg === "auto") return config.dtype === null ? torch.float32 : dtypeByName(config.dtype);
  return typeof arg === "string" ? dtypeByName(arg) : arg;
}

/** The weight files of a checkpoint folder, as HF looks for them (safetensors first). */
function weightFiles(dir: string): { files: string[]; safetensors: boolean } {
  const shardsOf = (index: string): string[] => {
    const weightMap = readJsonObject(index, "from_pretrained").weight_map;
    if (weightMap === null || typeof weightMap !== "object") throw new Error(`from_pretrained: ${index} has no weight_map object`);
    return [...new Set(Object.values(weightMap as Record<string, string>))].map((f) => {
      if (typeof f !== "string" || f !== path.basename(f))
        throw new Error(`from_pretrained: ${index}: ${JSON.stringify(f)} is not a shard file name`);
      return path.join(dir, f);
    });
  };
  const at = (f: string): string => path.join(dir, f);
  if (existsSync(at(SAFE_WEIGHTS_NAME))) return { files: [at(SAFE_WEIGHTS_NAME)], safetensors: true };
  if (existsSync(at(SAFE_WEIGHTS_INDEX_NAME))) return { files: shardsOf(at(SAFE_WEIGHTS_INDEX_NAME)), safetensors: true };
  if (existsSync(at(WEIGHTS_NAME))) return { files: [at(WEIGHTS_NAME)], safetensors: false };
  if (existsSync(at(WEIGHTS_INDEX_NAME))) return { files: shardsOf(at(WEIGHTS_INDEX_NAME)), safetensors: false };
  throw new Error(
    `from_pretrained: ${dir} has no model weights (looked for ${SAFE_WEIGHTS_NAME}, ${SAFE_WEIGHTS_INDEX_NAME}, ${WEIGHTS_NAME}, ${WEIGHTS_INDEX_NAME})`,
  );
}

/** Each (name, tensor) of the checkpoint's files, one tensor read at a time for safetensors. */
function* checkpointTensors(files: string[], safetensors: boolean): Generator<[string, Tensor, string]> {
  for (const file of files) {
    if (!existsSync(file)) throw new Error(`from_pretrained: shard ${file} is missing`);
    if (safetensors) {
      const f = safe_open(file, "pt");
      try {
        for (const k of f.keys()) yield [k, f.get_tensor(k), file];
      } finally {
        f.close();
      }
    } else {
      const sd = load(file, { map_location: "cpu", weights_only: true });
      if (sd === null || typeof sd !== "object" || Array.isArray(sd))
        throw new Error(`from_pretrained: ${file} does not hold a state dict`);
      for (const [k, t] of Object.entries(sd as Record<string, unknown>)) {
        if (t instanceof torch.Tensor) yield [k, t, file];
      }
    }
  }
}

const sizeString = (s: number[]): string => `torch.Size([${s.join(", ")}])`;

// Per-model state kept off the instance, so it is not one of the module's scanned properties.
const checkpointing = new WeakMap<PreTrainedModel, RemovableHandle[]>();
const requireGradsHooks = new WeakMap<PreTrainedModel, RemovableHandle>();

/** The decoder layers: the elements of each ModuleList of num_hidden_layers modules (`layers`, GPT-2's `h`). */
function decoderLayers(model: PreTrainedModel): Module[] {
  const layers: Module[] = [];
  let inside: string | null = null;
  for (const [name, m] of model.named_modules()) {
    if (inside !== null && name.startsWith(inside)) continue;
    if (m instanceof ModuleList && m.length === model.config.num_hidden_layers) {
      layers.push(...m);
      inside = `${name}.`;
    }
  }
  return layers;
}

let warnedCache = false;

// HF's GradientCheckpointingLayer: the recomputation would append to the KV cache a second time (and
// attend over both copies), so the layers run without the cache while training.
function dropCacheWhileTraining(layer: Module, args: unknown[]): unknown[] | undefined {
  const inputs = args.at(-1);
  if (!layer.training || !isKwargs(inputs) || (inputs.past_key_values ?? null) === null) return undefined;
  if (!warnedCache) {
    warnedCache = true;
    process.emitWarning(
      `Caching is incompatible with gradient checkpointing in ${layer.constructor.name}. Setting \`past_key_values=None\`.`,
    );
  }
  return [...args.slice(0, -1), { ...inputs, past_key_values: null }];
}

export abstract class PreTrainedModel<C extends PretrainedConfig = PretrainedConfig> extends Module {
  static config_class: new (d: Record<string, unknown>) => PretrainedConfig = PretrainedConfig;
  /** The attribute holding the base model ("model", "transformer"), as HF's base_model_prefix. */
  static base_model_prefix = "model";
  /** Checkpoint keys ignored when present but not in the model (old buffers). */
  static _keys_to_ignore_on_load_unexpected: RegExp[] = [];

  config: C;
  generation_config: GenerationConfig;

  constructor(config: C) {
    super();
    this.config = config;
    this.generation_config = GenerationConfig.from_model_config(config);
    // Under Advanced Parallelization the plan is applied at the model's first use (torch.moreh).
    torch.moreh._model_created(this);
  }

  abstract get_input_embeddings(): Embedding;

  get_output_embeddings(): Linear | null {
    return null;
  }

  /** With tie_word_embeddings, the output projection shares the input embedding's Parameter. */
  tie_weights(): void {
    const out = this.get_output_embeddings();
    if (out !== null && this.config.tie_word_embeddings) out.weight = this.get_input_embeddings().weight;
  }

  /** HF's `_init_weights`: N(0, initializer_range) weights, zero biases, zero padding row, unit norms. */
  _init_weights(module: Module): void {
    const std = this.config.initializer_range;
    if (module instanceof Linear) {
      torch.nn.init.normal_(module.weight, 0, std);
      if (module.bias !== null) torch.nn.init.zeros_(module.bias);
    } else if (module instanceof Embedding) {
      torch.nn.init.normal_(module.weight, 0, std);
      const idx = module.padding_idx;
      if (idx !== null) torch.no_grad(() => module.weight.select(0, idx).zero_());
    } else if (module instanceof LayerNorm || module instanceof RMSNorm) {
      if (module.weight !== null) torch.nn.init.ones_(module.weight);
      if (module instanceof LayerNorm && module.bias !== null) torch.nn.init.zeros_(module.bias);
    }
  }

  /** Initialises every weight and ties the embeddings (HF's post_init). */
  post_init(): void {
    this.apply((m) => this._init_weights(m));
    this.tie_weights();
  }

  // Read off the input embedding, not parameters(): a plan may replace the parameters with fp32
  // master shards (in CPU memory under offload) while the model computes in its own dtype and device.
  get dtype(): dtype {
    const w = this.get_input_embeddings().weight;
    if (w.dtype.is_floating_point) return w.dtype;
    for (const p of this.parameters()) if (p.dtype.is_floating_point) return p.dtype;
    return torch.get_default_dtype();
  }

  get device(): torch.device {
    return this.get_input_embeddings().weight.device;
  }

  num_parameters({
    only_trainable = false,
    exclude_embeddings = false,
  }: { only_trainable?: boolean; exclude_embeddings?: boolean } = {}): number {
    const skip = new Set<Tensor>();
    if (exclude_embeddings) for (const m of this.modules()) if (m instanceof Embedding) skip.add(m.weight);
    let n = 0;
    // A planned model hands out chunks of flat units: each stands for its whole unit.
    for (const p of this.parameters()) if (!skip.has(p) && (!only_trainable || p.requires_grad)) n += _logical_numel(p);
    return n;
  }

  /**
   * Recomputes each decoder layer's activations in the backward instead of keeping them, while the
   * model is training and grad is enabled (torch.utils.checkpoint around each layer).
   */
  gradient_checkpointing_enable({ gradient_checkpointing_kwargs, every_n_layers = 1 }: GradientCheckpointingOptions = {}): void {
    if (!Number.isInteger(every_n_layers) || every_n_layers < 1)
      throw new ValueError(`every_n_layers must be a positive integer, got ${every_n_layers}`);
    const layers = decoderLayers(this);
    if (layers.length === 0) {
      throw new ValueError(
        `${this.constructor.name} is not compatible with gradient checkpointing: it has no ModuleList of its ${this.config.num_hidden_layers} layers`,
      );
    }
    const options = gradient_checkpointing_kwargs ?? { use_reentrant: true };
    this.gradient_checkpointing_disable();
    const handles = layers.flatMap((layer, i) => [
      ...(i % every_n_layers === 0 ? [_checkpoint_module(layer, options)] : []),
      // Every layer, so that the cache does not miss the checkpointed ones.
      layer.register_forward_pre_hook(dropCacheWhileTraining, { prepend: true }),
    ]);
    // With the reentrant checkpoint a layer's output needs grad only if its input does: with frozen
    // embeddings (LoRA) nothing inside the layers would get a gradient otherwise. HF does this too.
    if (!requireGradsHooks.has(this)) {
      this.enable_input_require_grads();
      handles.push({ remove: () => this.disable_input_require_grads() });
    }
    checkpointing.set(this, handles);
  }

  gradient_checkpointing_disable(): void {
    for (const h of checkpointing.get(this) ?? []) h.remove();
    checkpointing.delete(this);
  }

  get is_gradient_checkpointing(): boolean {
    return checkpointing.has(this);
  }

  /** Makes the input embeddings' output require grad, so gradients reach adapters behind frozen embeddings. */
  enable_input_require_grads(): void {
    this.disable_input_require_grads();
    const hook = this.get_input_embeddings().register_forward_hook((_m, _args, output) => void (output as Tensor).requires_grad_(true));
    requireGradsHooks.set(this, hook);
  }

  disable_input_require_grads(): void {
    requireGradsHooks.get(this)?.remove();
    requireGradsHooks.delete(this);
  }

  /** A randomly initialised model for `config` (HF's `from_config`). */
  static from_config<M extends PreTrainedModel, C extends PretrainedConfig>(
    this: ModelClass<M, C>,
    config: C,
    options: FromPretrainedOptions = {},
  ): M {
    checkOptions(`${this.name}.from_config`, options, FROM_PRETRAINED_OPTIONS);
    const { torch_dtype, dtype: dt, device } = options;
    const arg = torch_dtype ?? dt;
    const target = arg === undefined ? torch.get_default_dtype() : resolveDtype(arg, config);
    checkModelFits(config, target, `${this.name}.from_config`);
    return torch.moreh._while_building(() => {
      const model = new this(config, { dtype: target, device: device ?? null });
      torch.no_grad(() => model.post_init());
      return model;
    });
  }

  /** Loads a folder or hub id (config.json plus safetensors or pytorch_model.bin, sharded or not). */
  static from_pretrained<M extends PreTrainedModel, C extends PretrainedConfig>(
    this: ModelClass<M, C>,
    name_or_path: string,
    options: FromPretrainedOptions = {},
  ): M {
    checkOptions(`${this.name}.from_pretrained`, options, FROM_PRETRAINED_OPTIONS);
    const dir = resolve_pretrained_folder(name_or_path, options, `${this.name}.from_pretrained`);
    const config = rememberSource(
      configFromFolder(dir, (d) => new this.config_class(d)),
      dir,
    );
    return torch.moreh._while_building(() => loadPretrained(this, config, dir, options));
  }

  /**
   * Writes config.json, generation_config.json and the weights (safetensors shards by default). Only
   * the main process writes (HF's `is_main_process`); under Advanced Parallelization every rank calls
   * it (a sharded model gathers its weights on all of them) and rank 0 is the main process.
   */
  save_pretrained(save_directory: string, options: SavePretrainedOptions = {}): void {
    checkOptions("PreTrainedModel.save_pretrained", options, { max_shard_size: true, safe_serialization: true, is_main_process: true });
    const { max_shard_size = "5GB", safe_serialization = true, is_main_process } = options;
    const dist = torch.distributed;
    // Under Advanced Parallelization the job is one device: every rank calls this, rank 0 writes.
    const job = torch.moreh.option.is_enabled_advanced_parallelization() && dist.is_initialized() && dist.get_world_size() > 1;
    const main = is_main_process ?? (!job || dist.get_rank() === 0);
    const sd = this.state_dict();
    if (main) {
      this.config.architectures = [this.constructor.name];
      this.config.dtype = this.dtype.name;
      const tied = this.tiedOutputKey();
      if (tied !== null) delete sd[tied];
      for (const k of Object.keys(sd)) sd[k] = sd[k].contiguous();
      // Written beside the folder and swapped in whole; weights of another format and any adapter go.
      saveFolder(save_directory, { owns: ownsModelFile }, (staging) => {
        this.config.save_pretrained(staging);
        this.generation_config.save_pretrained(staging);
        if (safe_serialization) save_torch_state_dict(sd, staging, { max_shard_size });
        else torch.save(sd, path.join(staging, WEIGHTS_NAME));
      });
    }
    // The folder is complete when any rank returns.
    if (job && is_main_process === undefined) dist.barrier();
  }

  /** The output projection's key when it shares the input embedding's weight (HF stores a tied weight once, under the input's name). */
  private tiedOutputKey(): string | null {
    const out = this.get_output_embeddings();
    const input = this.get_input_embeddings();
    if (out === null || out.weight !== input.weight) return null;
    for (const [name, m] of this.named_modules()) if (m === out) return `${name}.weight`;
    return null;
  }
}

/** Puts `value` (converted to the target dtype and device) in place of the tensor `key`. */
function placeTensor(model: Module, key: string, value: Tensor, file: string, device: DeviceLike): void {
  const dot = key.lastIndexOf(".");
  const owner = model.get_submodule(key.slice(0, Math.max(dot, 0)));
  const name = key.slice(dot + 1);
  const slots = owner as unknown as Record<string, unknown>;
  const current = slots[name] as Tensor;
  if (current.shape.length !== value.shape.length || current.shape.some((s, i) => s !== value.shape[i])) {
    throw new RuntimeError(
      `from_pretrained: size mismatch for ${key} (in ${file}): the checkpoint has shape ${sizeString(value.shape)}, the model expects ${sizeString(current.shape)}`,
    );
  }
  const target = value.to({ device, dtype: value.dtype.is_floating_point ? current.dtype : undefined });
  slots[name] = current instanceof Parameter ? new Parameter(target, current.requires_grad) : target;
}

function loadPretrained<M extends PreTrainedModel, C extends PretrainedConfig>(
  cls: ModelClass<M, C>,
  config: C,
  dir: string,
  options: FromPretrainedOptions,
): M {
  const target = resolveDtype(options.torch_dtype ?? options.dtype, config);
  checkModelFits(config, target, `${cls.name}.from_pretrained: ${dir}`);
  const device = options.device ?? "cpu";
  const { files, safetensors } = weightFiles(dir);
  const model = new cls(config, { device: "meta", dtype: target });
  const expected = new Set(Object.keys(model.state_dict()));
  const prefix = (cls as unknown as typeof PreTrainedModel).base_model_prefix;
  const ignore = (cls as unknown as typeof PreTrainedModel)._keys_to_ignore_on_load_unexpected;
  if (safetensors) {
    model.tie_weights();
    if (loadSharded(model, files, expected, prefix, ignore, device, dir)) return finishLoading(model, dir, device);
  }
  const loaded = new Set<string>();
  const unexpected: string[] = [];
  torch.no_grad(() => {
    for (const [rawKey, t, file] of checkpointTensors(files, safetensors)) {
      // Checkpoints of the base model alone (old GPT-2) lack the prefix.
      const key = expected.has(rawKey) ? rawKey : expected.has(`${prefix}.${rawKey}`) ? `${prefix}.${rawKey}` : null;
      if (key === null) {
        if (!ignore.some((r) => r.test(rawKey))) unexpected.push(rawKey);
        continue;
      }
      placeTensor(model, key, t, file, device);
      loaded.add(key);
    }
  });
  model.tie_weights();
  const missing = [...model.named_parameters({ remove_duplicate: false })].filter(([, p]) => p.device.type === "meta").map(([k]) => k);
  if (missing.length) throw new Error(`from_pretrained: ${dir}: weights missing from the checkpoint: ${missing.join(", ")}`);
  if (unexpected.length)
    process.emitWarning(`from_pretrained: ${dir}: checkpoint weights not used by ${cls.name}: ${unexpected.join(", ")}`);
  return finishLoading(model, dir, device);
}

function finishLoading<M extends PreTrainedModel>(model: M, dir: string, device: DeviceLike): M {
  model.to(device);
  if (existsSync(path.join(dir, GENERATION_CONFIG_NAME))) model.generation_config = GenerationConfig.from_pretrained(dir);
  model.eval();
  return model;
}

/**
 * Under Advanced Parallelization with a plan that shards the weights (ZeRO-3), the runtime builds
 * the model from the safetensors files one unit at a time, each rank keeping only its chunks: a
 * rank's peak while loading is its share plus about one layer, never the whole model. Returns
 * false (nothing read) when the plan does not shard the weights.
 */
function loadSharded(
  model: PreTrainedModel,
  files: string[],
  expected: Set<string>,
  prefix: string,
  ignore: RegExp[],
  device: DeviceLike,
  dir: string,
): boolean {
  const opened: SafeOpen[] = [];
  try {
    const where = new Map<string, [SafeOpen, string, string]>();
    for (const file of files) {
      if (!existsSync(file)) throw new Error(`from_pretrained: shard ${file} is missing`);
      // Read, not mapped: this rank keeps only its chunk of each tensor (SafeOpen's map option).
      const f = new SafeOpen(file, "cpu", { map: false });
      opened.push(f);
      for (const raw of f.keys()) {
        // Checkpoints of the base model alone (old GPT-2) lack the prefix.
        const key = expected.has(raw) ? raw : expected.has(`${prefix}.${raw}`) ? `${prefix}.${raw}` : null;
        if (key !== null) where.set(key, [f, raw, file]);
      }
    }
    const read = (names: string[], like: Tensor): Tensor => {
      const found = names.map((n) => where.get(n)).find((w) => w !== undefined);
      if (found === undefined) throw new Error(`from_pretrained: ${dir}: weights missing from the checkpoint: ${names.join(", ")}`);
      const [f, raw, file] = found;
      const t = f.get_tensor(raw);
      if (t.shape.length !== like.shape.length || t.shape.some((d, i) => d !== like.shape[i])) {
        throw new RuntimeError(
          `from_pretrained: size mismatch for ${names[0]} (in ${file}): the checkpoint has shape ${sizeString(t.shape)}, the model expects ${sizeString(like.shape)}`,
        );
      }
      return torch.no_grad(() => t.to({ device, dtype: t.dtype.is_floating_point ? like.dtype : undefined }));
    };
    const parameters = new Set([...model.named_parameters({ remove_duplicate: false })].map(([k]) => k));
    if (!torch.moreh._load_sharded(model, read)) return false;
    // The persistent buffers the checkpoint has (the weights are in the units now).
    torch.no_grad(() => {
      for (const [key, [f, raw, file]] of where) if (!parameters.has(key)) placeTensor(model, key, f.get_tensor(raw), file, device);
    });
    const unexpected = opened
      .flatMap((f) => f.keys())
      .filter((raw) => !expected.has(raw) && !expected.has(`${prefix}.${raw}`) && !ignore.some((r) => r.test(raw)));
    if (unexpected.length)
      process.emitWarning(`from_pretrained: ${dir}: checkpoint weights not used by ${model.constructor.name}: ${unexpected.join(", ")}`);
    return true;
  } finally {
    for (const f of opened) f.close();
  }
}
