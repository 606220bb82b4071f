// The on-disk format of a checkpoint folder (docs/checkpoints.md): one safetensors file per rank
// holding what that rank alone writes, and one metadata JSON (written last, by rank 0) that says how
// the pieces of the model were split — ZeRO chunks, tensor-parallel slices of full HF parameters,
// pipeline stages — so that any layout can read them back.
//
//   checkpoint-STEP/
//     tessera_checkpoint.json    metadata (this file's CheckpointMetadata); its presence marks a complete checkpoint
//     rank-00000.safetensors     model/<piece>, optim/<key>/<piece>: the chunks this rank writes; rng/cpu (rng/cuda:N);
//                                optim_state/<key>/<piece> (scalars) of the pieces whose chunk 0 it writes;
//                                buffer/<name> (the lowest rank of each pipeline stage); rank 0: state/... (packed JSON tensors)
//     config.json, ...           the model's config and whatever the script adds (tokenizer)
import { readFileSync } from "node:fs";
import path from "node:path";
import "../../torch/_generated/tensor_methods.js";
import { cat, empty } from "../../torch/_generated/functions.js";
import { safe_open, type SafeOpen } from "../../torch/serialization/index.js";
import { Tensor } from "../../torch/tensor.js";
import { placeSlice } from "../executors/tensor_parallel.js";

export const METADATA_FILE = "tessera_checkpoint.json";
export const FORMAT = "tessera-checkpoint";

export function rankFile(rank: number): string {
  return `rank-${String(rank).padStart(5, "0")}.safetensors`;
}

/**
 * Where a tensor-parallel slice sits in its full HF parameter: along `dim`, the [start, length]
 * ranges of the full tensor, concatenated in the saved tensor (zero padding after them, up to its shape).
 */
export interface TensorSlice {
  dim: number;
  full: number[];
  ranges: Array<[number, number]>;
}

/** A parameter inside a saved piece: its names, its shape there, its offset in the flat piece, and the slice it is of a full parameter. */
export interface EntryMetadata {
  names: string[];
  shape: number[];
  offset: number;
  slice?: TensorSlice;
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
  entries: EntryMetadata[];
  /** The optimizer's state of the piece: keys chunked like the weights, other tensors (in the file of writers[0]), and plain values. */
  optimizer: { chunked: string[]; tensors: string[]; values: Record<string, JsonValue> } | null;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface CheckpointMetadata {
  format: typeof FORMAT;
  version: 2;
  world_size: number;
  /** The Advanced Parallelization plan it was saved under (null without one). */
  plan: JsonValue;
  /** files[rank]: each rank's safetensors file. */
  files: string[];
  pieces: PieceMetadata[];
  /** Persistent buffers, as buffer/<name> in the file of `rank`. */
  buffers: Array<{ name: string; rank: number }>;
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
  if (meta.format !== FORMAT || meta.version !== 2) throw new Error(`${file}: not a ${FORMAT} version 2 file`);
  return meta as CheckpointMetadata;
}

/** Chunks read from one rank's file are kept this long (bytes), as consecutive parameters come from the same chunks. */
const CACHE_BYTES = 256 * 1024 * 1024;

/** One saved copy of a parameter: entry `entry` of `piece` (the whole parameter, or one TP slice of it). */
export type Located = { piece: PieceMetadata; entry: number };

/** A saved parameter's full shape. */
export function fullShapeOf(e: EntryMetadata): number[] {
  return e.slice?.full ?? e.shape;
}

/** Reads a saved checkpoint back by name, whatever layout wrote it. */
export class CheckpointReader {
  readonly meta: CheckpointMetadata;
  private readonly files = new Map<number, SafeOpen>();
  private readonly cache = new Map<string, Tensor>();
  private cached = 0;
  /** Each name's saved copies: one whole tensor, or the TP slices that make it up. */
  private readonly byName = new Map<string, Located[]>();

  constructor(readonly dir: string) {
    this.meta = readMetadata(dir);
    for (const piece of this.meta.pieces) {
      piece.entries.forEach((e, entry) => e.names.forEach((n) => this.byName.set(n, [...(this.byName.get(n) ?? []), { piece, entry }])));
    }
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

  /** Where a parameter held under any of `names` is saved (its whole tensor, or every TP slice of it), or null. */
  find(names: readonly string[]): Located[] | null {
    for (const n of names) {
      const at = this.byName.get(n);
      if (at !== undefined) return at;
    }
    return null;
  }

  /** Every saved parameter once (tied names together), with where it is saved, in the order saved. */
  parameters(): Located[][] {
    const seen = new Set<Located[]>();
    for (const piece of this.meta.pieces) for (const e of piece.entries) seen.add(this.byName.get(e.names[0])!);
    return [...seen];
  }

  /** One saved copy as stored (a whole tensor or a slice), read from the chunks that hold it. */
  private stored(at: Located, prefix: string): Tensor {
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

  /**
   * A saved parameter's full tensor (`prefix` "model", or "optim/<key>" for state shaped like it):
   * the whole one, or its TP slices put in their places.
   */
  full(where: Located[], prefix: string): Tensor {
    const entries = where.map(({ piece, entry }) => piece.entries[entry]);
    const name = entries[0].names[0];
    if (where.length === 1 && entries[0].slice === undefined) return this.stored(where[0], prefix);
    const [first] = entries;
    const dim = first.slice?.dim ?? -1;
    const shape = fullShapeOf(first);
    const covered = entries.reduce((n, e) => n + (e.slice?.ranges.reduce((a, [, len]) => a + len, 0) ?? 0), 0);
    if (
      entries.some((e) => e.slice === undefined || e.slice.dim !== dim || e.slice.full.join() !== shape.join()) ||
      covered !== shape[dim]
    ) {
      throw new Error(`${this.dir}: the saved slices of ${name} do not make up its full tensor [${shape.join(", ")}]`);
    }
    const out = empty(shape, { dtype: this.stored(where[0], prefix).dtype });
    where.forEach((at, i) => placeSlice(out, dim, entries[i].slice!.ranges, this.stored(at, prefix)));
    return out;
  }

  close(): void {
    for (const f of this.files.values()) f.close();
    this.files.clear();
    this.cache.clear();
    this.cached = 0;
  }
}
