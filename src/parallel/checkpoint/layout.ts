// A model as a checkpoint sees it: pieces, each what the optimizer holds for one part of the model on
// this rank — a ZeRO unit's chunk (src/parallel/executors/flat_unit.ts), or a whole plain parameter —
// with the names, shapes and offsets of the parameters inside it, and, for a tensor-parallel slice,
// where it sits in the full HF parameter; plus the pipeline stage and TP rank holding the piece. A
// checkpoint written under one layout is read back under any other by name: full tensors are put
// together from the saved slices, then each rank cuts its own part under the current layout.
import "../../torch/_generated/tensor_methods.js";
import { no_grad } from "../../torch/autograd/grad_mode.js";
import type { dtype } from "../../torch/dtype.js";
import { Module } from "../../torch/nn/modules/module.js";
import type { Tensor } from "../../torch/tensor.js";
import { appliedModelOf } from "../apply.js";
import { FlatUnit } from "../executors/flat_unit.js";
import { cutSlice, type TensorParallelModel } from "../executors/tensor_parallel.js";
import type { TensorSlice } from "./format.js";

/**
 * One parameter inside a piece: the names it is held under (tied ones share it), its shape here and
 * where it sits in the flat piece; `slice` when this rank holds a tensor-parallel slice of it.
 */
export interface PieceEntry {
  names: string[];
  shape: number[];
  offset: number;
  numel: number;
  slice: TensorSlice | null;
}

export interface Piece {
  /** Unique within the job: the unit's name, or the parameter's first name, then @ppS (a pipeline stage's) and @tpR (a TP rank's slices). */
  name: string;
  /** What the optimizer holds and steps: the unit's chunk on this rank, or the parameter. */
  param: Tensor;
  entries: PieceEntry[];
  /** Elements of the flat piece, without padding. */
  numel: number;
  /** Elements each rank holds (the last rank's chunk ends in padding). */
  chunk: number;
  shard_size: number;
  shard_rank: number;
  /** The parameters' own dtype (a unit's chunk may be an fp32 master of 16-bit weights). */
  param_dtype: dtype;
  /** The pipeline stage holding the piece (0 without pipeline parallelism). */
  stage: number;
  /** The TP rank whose slices the piece holds, or null when every rank of the TP group holds the same piece. */
  tp_rank: number | null;
  /** This rank's part of full tensors given by entry (weights or optimizer state shaped like them), shaped and typed like `like`. */
  partOf(values: Tensor[], like: Tensor): Tensor;
  /** Puts full tensors given by entry into this rank's part. */
  load(values: Tensor[]): void;
}

/** Where this rank sits in the job's pipeline and TP group. */
export interface RankPlacement {
  stage: number;
  tp_rank: number;
}

/** What this rank holds of a full tensor: the tensor, or its TP slice. */
function localPart(e: PieceEntry, full: Tensor): Tensor {
  return e.slice === null ? full : cutSlice(full, e.slice.dim, e.slice.ranges, e.shape[e.slice.dim]);
}

/** The TP slice a parameter held under `names` is on this rank, or null for a whole one. */
function sliceOf(names: string[], tp: TensorParallelModel | null): TensorSlice | null {
  for (const n of names) {
    const spec = tp?.specs.get(n);
    if (spec !== undefined) return { dim: spec.dim, full: spec.full, ranges: spec.pieces[tp!.rank] };
  }
  return null;
}

function unitPiece(unit: FlatUnit, moduleNames: Map<Module, string>, tp: TensorParallelModel | null): Omit<Piece, "stage" | "tp_rank"> {
  const { layout } = unit;
  const entries = unit.entries.map((e) => {
    const names = e.owners.map(([m, attr]) => {
      const at = moduleNames.get(m) ?? "";
      return at === "" ? attr : `${at}.${attr}`;
    });
    return { names, shape: e.shape, offset: e.offset, numel: e.numel, slice: sliceOf(names, tp) };
  });
  const local = (values: Tensor[]): Tensor[] => values.map((v, i) => localPart(entries[i], v));
  return {
    name: unit.name,
    param: unit.shard,
    entries,
    numel: unit.numel,
    chunk: unit.chunk,
    shard_size: layout.shardSize,
    shard_rank: layout.shardRank,
    param_dtype: layout.computeDtype,
    partOf: (values, like) => unit.chunkFrom(local(values), like.dtype, like.device),
    load: (values) => unit.loadFullTensors(local(values)),
  };
}

function plainPiece(name: string, p: Tensor, tp: TensorParallelModel | null): Omit<Piece, "stage" | "tp_rank"> {
  const entry: PieceEntry = { names: [name], shape: p.shape, offset: 0, numel: p.numel(), slice: sliceOf([name], tp) };
  return {
    name,
    param: p,
    entries: [entry],
    numel: p.numel(),
    chunk: p.numel(),
    shard_size: 1,
    shard_rank: 0,
    param_dtype: p.dtype,
    partOf: (values, like) => localPart(entry, values[0]).to({ dtype: like.dtype, device: like.device, copy: true }).reshape(like.shape),
    load: (values) => no_grad(() => void p.copy_(localPart(entry, values[0]).reshape(p.shape))),
  };
}

/** This rank's pipeline stage and TP rank under the plan applied to `model` (0 and 0 without one). */
export function rankPlacement(model: Module): RankPlacement {
  const applied = appliedModelOf(model);
  return { stage: applied?.pipeline?.stage ?? 0, tp_rank: applied?.tensorParallel?.rank ?? 0 };
}

/** The model's pieces on this rank in parameter order (applying its Advanced Parallelization plan first, if one is pending). */
export function modelPieces(model: Module): Piece[] {
  const params = [...model.named_parameters({ remove_duplicate: false })];
  const applied = appliedModelOf(model);
  const tp = applied?.tensorParallel ?? null;
  const { stage, tp_rank } = rankPlacement(model);
  const staged = (applied?.pipeline?.options.pp ?? 1) > 1;
  const moduleNames = new Map<Module, string>();
  for (const [name, m] of model.named_modules(null, "", false)) if (!moduleNames.has(m)) moduleNames.set(m, name);
  const pieces = new Map<Tensor, Omit<Piece, "stage" | "tp_rank">>();
  for (const [name, p] of params) {
    const known = pieces.get(p);
    if (known !== undefined) {
      // A tied plain parameter: one more name for the same tensor.
      if (FlatUnit.of(p) === null) known.entries[0].names.push(name);
      continue;
    }
    const unit = FlatUnit.of(p);
    pieces.set(p, unit === null ? plainPiece(name, p, tp) : unitPiece(unit, moduleNames, tp));
  }
  return [...pieces.values()].map((piece) => {
    // A unit holds either TP slices or replicated parameters only (sharded.ts keeps them apart).
    const sliced = piece.entries.some((e) => e.slice !== null);
    const name = `${piece.name}${staged ? `@pp${stage}` : ""}${sliced ? `@tp${tp_rank}` : ""}`;
    return { ...piece, name, stage, tp_rank: sliced ? tp_rank : null };
  });
}

/** The model's persistent buffers by name (what its state_dict holds besides parameters). */
export function persistentBuffers(model: Module): Map<string, Tensor> {
  const params = new Set<Tensor>(model.parameters());
  const out = new Map<string, Tensor>();
  // The Module's own state_dict: an executor may replace the instance's with one that gathers weights.
  for (const [name, t] of Object.entries(Module.prototype.state_dict.call(model, { keep_vars: true })))
    if (!params.has(t)) out.set(name, t);
  return out;
}
