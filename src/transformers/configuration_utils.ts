// PretrainedConfig: a model's config.json. Known fields become typed properties; every other key
// of the file is kept in `extra` and written back by save_pretrained, so a round trip loses nothing.
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { writeAtomically } from "../torch/serialization/atomic.js";
import { assignOwnFields, readJsonObjectFile } from "../torch/serialization/json.js";
import { copyRemoteCode, rememberSource } from "./remote_code.js";

export const CONFIG_NAME = "config.json";
export const GENERATION_CONFIG_NAME = "generation_config.json";

export type ConfigDict = Record<string, unknown>;

/** Reads a JSON object from `file`, naming the file in every error. */
export function readJsonObject(file: string, what: string): ConfigDict {
  if (!existsSync(file)) throw new Error(`${what}: ${file} does not exist`);
  return readJsonObjectFile(file, what);
}

/** Writes `value` as indented JSON through a temporary file: a symlink at `file` is replaced, never written through. */
function writeJsonFile(file: string, value: ConfigDict): void {
  writeAtomically(file, (fd) => writeFileSync(fd, `${JSON.stringify(value, null, 2)}\n`));
}

/** The folder's config.json, with an error that names the folder and the file looked for. */
export function readConfigDict(dir: string): ConfigDict {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new Error(`from_pretrained: ${dir} is not a folder (expected a model folder with ${CONFIG_NAME})`);
  const file = path.join(dir, CONFIG_NAME);
  if (!existsSync(file)) throw new Error(`from_pretrained: ${dir} has no ${CONFIG_NAME}`);
  return readJsonObject(file, "from_pretrained");
}

/** Builds a config from the folder's config.json; a value the config refuses is an error naming the file. */
export function configFromFolder<T>(dir: string, build: (d: ConfigDict) => T): T {
  const d = readConfigDict(dir);
  try {
    return build(d);
  } catch (e) {
    throw new Error(`from_pretrained: ${path.join(dir, CONFIG_NAME)}: ${(e as Error).message}`, { cause: e });
  }
}

/** Takes `key` out of `d` (so it does not land in `extra`), or `fallback` when absent or null. */
export function take<T>(d: ConfigDict, key: string, fallback: T): T {
  const v = d[key];
  delete d[key];
  return v === undefined || v === null ? fallback : (v as T);
}

export class PretrainedConfig {
  static model_type = "";
  architectures: string[] | null;
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  initializer_range: number;
  tie_word_embeddings: boolean;
  use_cache: boolean;
  bos_token_id: number | null;
  eos_token_id: number | number[] | null;
  pad_token_id: number | null;
  /** The checkpoint's dtype name ("float32", "bfloat16"); HF 5 writes `dtype`, HF 4 `torch_dtype`. */
  dtype: string | null;
  /** Keys this class does not model, written back unchanged. */
  extra: ConfigDict;

  /** Subclasses take their own keys out of `this.extra` after calling this constructor. */
  constructor(dict: ConfigDict = {}) {
    const d = { ...dict };
    this.architectures = take<string[] | null>(d, "architectures", null);
    this.vocab_size = take(d, "vocab_size", 32000);
    this.hidden_size = take(d, "hidden_size", 4096);
    this.num_hidden_layers = take(d, "num_hidden_layers", 32);
    this.num_attention_heads = take(d, "num_attention_heads", 32);
    this.initializer_range = take(d, "initializer_range", 0.02);
    this.tie_word_embeddings = take(d, "tie_word_embeddings", false);
    this.use_cache = take(d, "use_cache", true);
    this.bos_token_id = take<number | null>(d, "bos_token_id", null);
    this.eos_token_id = take<number | number[] | null>(d, "eos_token_id", null);
    this.pad_token_id = take<number | null>(d, "pad_token_id", null);
    const torchDtype = take<string | null>(d, "torch_dtype", null);
    this.dtype = take<string | null>(d, "dtype", torchDtype);
    delete d.model_type;
    delete d.transformers_version;
    this.extra = d;
    // A file's sizes are checked before anything is built from them.
    for (const [key, min] of [
      ["vocab_size", 1],
      ["hidden_size", 1],
      ["num_attention_heads", 1],
      ["num_hidden_layers", 0],
    ] as const) {
      const v = this[key];
      if (!Number.isSafeInteger(v) || v < min)
        throw new Error(`${this.constructor.name}: ${key} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    }
  }

  get model_type(): string {
    return (this.constructor as typeof PretrainedConfig).model_type;
  }

  /** The config as config.json holds it (HF's `to_dict`). */
  to_dict(): ConfigDict {
    const out: ConfigDict = { ...this.extra };
    for (const [k, v] of Object.entries(this)) if (k !== "extra") out[k] = v;
    out.model_type = this.model_type;
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  save_pretrained(save_directory: string): void {
    mkdirSync(save_directory, { recursive: true });
    writeJsonFile(path.join(save_directory, CONFIG_NAME), { ...this.to_dict(), transformers_version: "5.0.0" });
    copyRemoteCode(this, this.extra.auto_map, save_directory);
  }

  /** Loads `dir/config.json` into this config class (the model_type is not checked here). */
  static from_pretrained<T extends PretrainedConfig>(this: new (d: ConfigDict) => T, dir: string): T {
    return rememberSource(
      configFromFolder(dir, (d) => new this(d)),
      dir,
    );
  }

  static from_dict<T extends PretrainedConfig>(this: new (d: ConfigDict) => T, d: ConfigDict): T {
    return new this(d);
  }
}

/** generation_config.json: decoding defaults, kept as a plain dict (generate() reads it). */
export class GenerationConfig {
  [key: string]: unknown;

  constructor(d: ConfigDict = {}) {
    assignOwnFields(this, d, "GenerationConfig");
  }

  /** The decoding-relevant token ids of a model config, as HF's `GenerationConfig.from_model_config`. */
  static from_model_config(config: PretrainedConfig): GenerationConfig {
    const d: ConfigDict = {};
    for (const k of ["bos_token_id", "eos_token_id", "pad_token_id"] as const) if (config[k] !== null) d[k] = config[k];
    return new GenerationConfig(d);
  }

  static from_pretrained(dir: string): GenerationConfig {
    const file = path.join(dir, GENERATION_CONFIG_NAME);
    const config = new GenerationConfig();
    assignOwnFields(config, readJsonObject(file, "GenerationConfig.from_pretrained"), `GenerationConfig.from_pretrained: ${file}`);
    return config;
  }

  to_dict(): ConfigDict {
    return { ...this };
  }

  save_pretrained(save_directory: string): void {
    mkdirSync(save_directory, { recursive: true });
    writeJsonFile(path.join(save_directory, GENERATION_CONFIG_NAME), { ...this.to_dict(), transformers_version: "5.0.0" });
  }
}
