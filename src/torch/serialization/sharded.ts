// Sharded safetensors checkpoints as Hugging Face writes them: shards
// `model-00001-of-00003.safetensors` plus `model.safetensors.index.json`
// ({"metadata": {"total_size": N}, "weight_map": {name: shard}}); one unsharded `model.safetensors`
// and no index when everything fits in one shard. Names follow `huggingface_hub`
// (split_torch_state_dict_into_shards, save_torch_state_dict); load_torch_state_dict reads a
// folder, an index or one file. Shared tensors are written as copies.
import { ValueError } from "../errors.js";
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import type { Tensor } from "../tensor.js";
import type { DeviceLike } from "../device.js";
import { writeAtomically } from "./atomic.js";
import { writeFully, setOwn } from "./io.js";
import { parseJson } from "./json.js";
import { load_file, save_file, type DeviceOption } from "./safetensors.js";
import { checkOptions, type OptionNames } from "../_options.js";

const SIZE_UNITS: Record<string, number> = {
  TB: 1e12,
  GB: 1e9,
  MB: 1e6,
  KB: 1e3,
  TIB: 2 ** 40,
  GIB: 2 ** 30,
  MIB: 2 ** 20,
  KIB: 2 ** 10,
  B: 1,
};

/** "5GB" → 5e9 (decimal units as huggingface_hub; KiB/MiB/GiB binary); numbers pass through. */
export function parse_size_to_int(size: number | string): number {
  if (typeof size === "number") {
    if (!Number.isSafeInteger(size) || size <= 0) throw new ValueError(`max_shard_size must be a positive integer, got ${size}`);
    return size;
  }
  const m = /^\s*([\d.]+)\s*([a-zA-Z]+)\s*$/.exec(size);
  const unit = m ? SIZE_UNITS[m[2].toUpperCase()] : undefined;
  if (m === null || unit === undefined || !(Number(m[1]) > 0))
    throw new ValueError(`max_shard_size ${JSON.stringify(size)} is not a size such as "5GB" or "500MiB"`);
  return Math.floor(Number(m[1]) * unit);
}

export interface SplitOptions {
  max_shard_size?: number | string;
  /** With `{suffix}` where the shard number goes, e.g. "model{suffix}.safetensors". */
  filename_pattern?: string;
}

const SPLIT_OPTIONS: OptionNames<SplitOptions> = { max_shard_size: true, filename_pattern: true };

/** huggingface_hub's StateDictSplit. */
export interface StateDictSplit {
  is_sharded: boolean;
  metadata: { total_size: number };
  filename_to_tensors: Record<string, string[]>;
  tensor_to_filename: Record<string, string>;
}

const DEFAULT_PATTERN = "model{suffix}.safetensors";

/**
 * Greedy split in state-dict order, as huggingface_hub does: a tensor larger than the limit gets a
 * shard of its own; otherwise a new shard starts when the next tensor would overflow the current.
 */
export function split_torch_state_dict_into_shards(state_dict: Record<string, Tensor>, options: SplitOptions = {}): StateDictSplit {
  checkOptions("split_torch_state_dict_into_shards", options, SPLIT_OPTIONS);
  const max = parse_size_to_int(options.max_shard_size ?? "5GB");
  const pattern = options.filename_pattern ?? DEFAULT_PATTERN;
  if (!pattern.includes("{suffix}")) throw new ValueError(`filename_pattern ${JSON.stringify(pattern)} must contain {suffix}`);
  const shards: string[][] = [];
  let current: string[] = [];
  let currentSize = 0;
  let total = 0;
  for (const [name, t] of Object.entries(state_dict)) {
    const size = t.numel() * t.dtype.itemsize;
    total += size;
    if (size > max) {
      shards.push([name]);
      continue;
    }
    if (currentSize + size > max && current.length) {
      shards.push(current);
      current = [];
      currentSize = 0;
    }
    current.push(name);
    currentSize += size;
  }
  if (current.length || shards.length === 0) shards.push(current);
  const n = shards.length;
  const filename_to_tensors: Record<string, string[]> = {};
  const tensor_to_filename: Record<string, string> = {};
  shards.forEach((names, i) => {
    const suffix = n === 1 ? "" : `-${String(i + 1).padStart(5, "0")}-of-${String(n).padStart(5, "0")}`;
    const file = pattern.replace("{suffix}", suffix);
    setOwn(filename_to_tensors, file, names);
    for (const name of names) setOwn(tensor_to_filename, name, file);
  });
  return { is_sharded: n > 1, metadata: { total_size: total }, filename_to_tensors, tensor_to_filename };
}

export interface SaveStateDictOptions extends SplitOptions {
  /** Stored in every shard's `__metadata__`; {"format": "pt"} by default, as HF writes. */
  metadata?: Record<string, string>;
}

/** Writes `state_dict` into `save_directory` as one safetensors file or shards plus an index. */
export function save_torch_state_dict(
  state_dict: Record<string, Tensor>,
  save_directory: string,
  options: SaveStateDictOptions = {},
): StateDictSplit {
  checkOptions("save_torch_state_dict", options, { ...SPLIT_OPTIONS, metadata: true });
  const { metadata: _, ...split_options } = options;
  const split = split_torch_state_dict_into_shards(state_dict, split_options);
  const metadata = { format: "pt", ...options.metadata };
  for (const [file, names] of Object.entries(split.filename_to_tensors)) {
    const shard: Record<string, Tensor> = {};
    for (const name of names) setOwn(shard, name, state_dict[name]);
    save_file(shard, path.join(save_directory, file), metadata);
  }
  if (split.is_sharded) {
    const pattern = options.filename_pattern ?? DEFAULT_PATTERN;
    const index = { metadata: split.metadata, weight_map: split.tensor_to_filename };
    const indexFile = path.join(save_directory, `${pattern.replace("{suffix}", "")}.index.json`);
    writeAtomically(indexFile, (fd) => writeFully(fd, new TextEncoder().encode(`${JSON.stringify(index, null, 2)}\n`)));
  }
  return split;
}

function readIndex(indexFile: string): Map<string, string[]> {
  const fail = (problem: string): never => {
    throw new Error(`load_torch_state_dict: ${indexFile}: ${problem}`);
  };
  let index: unknown;
  try {
    index = parseJson(readFileSync(indexFile, "utf8"));
  } catch (e) {
    fail(`not valid JSON (${(e as Error).message})`);
  }
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (weightMap === null || typeof weightMap !== "object" || Array.isArray(weightMap)) fail("no weight_map object");
  const byShard = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(weightMap as Record<string, unknown>)) {
    // Shards must be plain file names next to the index, never paths that reach elsewhere.
    if (typeof shard !== "string" || shard !== path.basename(shard) || shard === "." || shard === "..") {
      fail(`weight_map[${JSON.stringify(name)}] = ${JSON.stringify(shard)} is not a shard file name`);
    }
    const names = byShard.get(shard as string) ?? [];
    names.push(name);
    byShard.set(shard as string, names);
  }
  return byShard;
}

/**
 * Every tensor of a checkpoint: `checkpoint` is a folder (with `model.safetensors.index.json` or
 * `model.safetensors`), an index file, or a single safetensors file.
 */
export function load_torch_state_dict(checkpoint: string, device: DeviceLike | DeviceOption = "cpu"): Record<string, Tensor> {
  let file = checkpoint;
  if (statSync(checkpoint).isDirectory()) {
    const index = path.join(checkpoint, `${DEFAULT_PATTERN.replace("{suffix}", "")}.index.json`);
    file = existsSync(index) ? index : path.join(checkpoint, DEFAULT_PATTERN.replace("{suffix}", ""));
  }
  if (!file.endsWith(".index.json")) return load_file(file, device);
  const out: Record<string, Tensor> = {};
  for (const [shard, names] of readIndex(file)) {
    const tensors = load_file(path.join(path.dirname(file), shard), device);
    for (const name of names) {
      if (!Object.hasOwn(tensors, name))
        throw new Error(`load_torch_state_dict: ${file}: tensor ${JSON.stringify(name)} is not in shard ${shard}`);
      setOwn(out, name, tensors[name]);
    }
  }
  return out;
}
