// The on-disk format of a checkpoint folder (docs/checkpoints.md): one safetensors file per rank
// holding what that rank owns, and one metadata JSON (written last, by rank 0) that says how the
// pieces of the model were split, so that any layout can read them back.
//
//   checkpoint-STEP/
//     tessera_checkpoint.json    metadata (this file's CheckpointMetadata); its presence marks a complete checkpoint
//     rank-00000.safetensors     model/<piece>, optim/<key>/<piece>: this rank's chunks; rng/cpu (rng/cuda:N);
//                                rank 0 also: optim_state/<key>/<piece> (scalars), buffer/<name>, state/... (packed JSON tensors)
//     config.json, ...           the model's config and whatever the script adds (tokenizer)
import { readFileSync } from "node:fs";
import path from "node:path";
import "../../torch/_generated/tensor_methods.js";
import { cat } from "../../torch/_generated/functions.js";
import { safe_open, type SafeOpen } from "../../torch/serialization/index.js";
import { Tensor } from "../../torch/tensor.js";

export const METADATA_FILE = "tessera_checkpoint.json";
export const FORMAT = "tessera-checkpoint";

export function rankFile(rank: number): string {
  return `rank-${String(rank).padStart(5, "0")}.safetensors`;
}

/** A piece as saved: its layout then, and which rank's file holds each of its chunks. */
export interface PieceMetadata {
  name: string;
  numel: number;
  chunk: number;
  shard_size: number;
  /** The saved chunks' dtype (fp32 masters of 16-bit weights stay fp32). */
  dtype: string;
  /** The parameters' dtype (what a merged folder holds). */
  param_dtype: string;
  /** writers[k]: the rank whose file holds chunk k. */
  writers: number[];
  entries: Array<{ names: string[]; shape: number[]; offset: number }>;
  /** The optimizer's state of the piece: keys chunked like the weights, other tensors (in rank 0's file), and plain values. */
  optimizer: { chunked: string[]; tensors: string[]; values: Record<string, JsonValue> } | null;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface CheckpointMetadata {
  format: typeof FORMAT;
  version: 1;
  world_size: number;
  /** The Advanced Parallelization plan it was saved under (null without one). */
  plan: JsonValue;
  /** files[rank]: each rank's safetensors file. */
  files: string[];
  pieces: PieceMetadata[];
  /** Persistent buffers, as buffer/<name> in rank 0's file. */
  buffers: string[];
  /** The optimizer's param_groups without their params (hyperparameters, by group). */
  optimizer: { param_groups: JsonValue[] } | null;
  /** Packed values (tensors as references into rank 0's file). */
  lr_scheduler: JsonValue;
  dataloader: JsonValue;
  trainer_state: JsonValue;
}

// A JSON value may refer to tensors (a generator state, say) and hold numbers JSON cannot spell.
const TENSOR = "__tensor__";
const NUMBER = "__number__";

/** `value` as JSON, its tensors moved into `tensors` under `key`-based names. */
export function pack(value: unknown, key: string, tensors: Record<string, Tensor>): JsonValue {
  if (value instanceof Tensor) {
    tensors[key] = value.detach().to({ device: "cpu" }).contiguous();
    return { [TENSOR]: key };
  }
  if (typeof value === "number") return Number.isFinite(value) ? value : { [NUMBER]: String(value) };
  if (value === null || value === undefined) return null;
  if (typeof value === "string" || typeof value === "boolean") return value;
  if (Array.isArray(value)) return value.map((v, i) => pack(v, `${key}.${i}`, tensors));
  if (typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, pack(v, `${key}.${k}`, tensors)]));
  throw new TypeError(`checkpoint: cannot save a ${typeof value} (at ${key})`);
}

/** The inverse of pack, reading tensors through `tensor`. */
export function unpack(value: JsonValue, tensor: (key: string) => Tensor): unknown {
  if (Array.isArray(value)) return value.map((v) => unpack(v, tensor));
  if (value === null || typeof value !== "object") return value;
  if (typeof value[TENSOR] === "string") return tensor(value[TENSOR]);
  if (typeof value[NUMBER] === "string") return Number(value[NUMBER]);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unpack(v, tensor)]));
}

export function readMetadata(dir: string): CheckpointMetadata {
  const file = path.join(dir, METADATA_FILE);
  let meta: Partial<CheckpointMetadata>;
  try {
    meta = JSON.parse(readFileSync(file, "utf8")) as Partial<CheckpointMetadata>;
  } catch (e) {
    throw new Error(`${dir} is not a complete checkpoint: ${(e as Error).message}`);
  }
  if (meta.format !== FORMAT || meta.version !== 1) throw new Error(`${file}: not a ${FORMAT} version 1 file`);
  return meta as CheckpointMetadata;
}

/** Chunks read from one rank's file are kept this long (bytes), as consecutive parameters come from the same chunks. */
const CACHE_BYTES = 256 * 1024 * 1024;

/** Reads a saved checkpoint back by name, whatever layout wrote it. */
export class CheckpointReader {
  readonly meta: CheckpointMetadata;
  private readonly files = new Map<number, SafeOpen>();
  private readonly cache = new Map<string, Tensor>();
  private cached = 0;
  private readonly byName = new Map<string, { piece: PieceMetadata; entry: number }>();

  constructor(readonly dir: string) {
    this.meta = readMetadata(dir);
    for (const piece of this.meta.pieces) piece.entries.forEach((e, entry) => e.names.forEach((n) => this.byName.set(n, { piece, entry })));
  }

  private open(rank: number): SafeOpen {
    let f = this.files.get(rank);
    if (f === undefined) {
      f = safe_open(path.join(this.dir, this.meta.files[rank]));
      this.files.set(rank, f);
    }
    return f;
  }

  /** A tensor of one rank's file. */
  tensor(rank: number, key: string): Tensor {
    return this.open(rank).get_tensor(key);
  }

  has(rank: number, key: string): boolean {
    return this.open(rank).keys().includes(key);
  }

  private chunkOf(piece: PieceMetadata, prefix: string, k: number): Tensor {
    const key = `${prefix}/${piece.name}`;
    const id = `${k}|${key}`;
    const hit = this.cache.get(id);
    if (hit !== undefined) return hit;
    const t = this.tensor(piece.writers[k], key);
    const bytes = t.numel() * t.element_size();
    for (const [old, v] of this.cache) {
      if (this.cached + bytes <= CACHE_BYTES) break;
      this.cached -= v.numel() * v.element_size();
      this.cache.delete(old);
    }
    this.cache.set(id, t);
    this.cached += bytes;
    return t;
  }

  /** Where a parameter is saved, or null. */
  find(names: readonly string[]): { piece: PieceMetadata; entry: number } | null {
    for (const n of names) {
      const at = this.byName.get(n);
      if (at !== undefined) return at;
    }
    return null;
  }

  /** A saved parameter's full tensor (`prefix` "model", or "optim/<key>" for state shaped like it), read from the chunks that hold it. */
  full(at: { piece: PieceMetadata; entry: number }, prefix: string): Tensor {
    const { piece } = at;
    const e = piece.entries[at.entry];
    const numel = e.shape.reduce((a, b) => a * b, 1);
    const parts: Tensor[] = [];
    for (let pos = e.offset; pos < e.offset + numel; ) {
      const k = Math.floor(pos / piece.chunk);
      const start = pos - k * piece.chunk;
      const n = Math.min(piece.chunk - start, e.offset + numel - pos);
      parts.push(this.chunkOf(piece, prefix, k).narrow(0, start, n));
      pos += n;
    }
    const flat = parts.length === 1 ? parts[0] : cat(parts);
    return flat.reshape(e.shape);
  }

  close(): void {
    for (const f of this.files.values()) f.close();
    this.files.clear();
    this.cache.clear();
    this.cached = 0;
  }
}
