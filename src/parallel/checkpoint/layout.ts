// A model as a checkpoint sees it: pieces, each what the optimizer holds for one part of the model —
// a ZeRO unit's chunk on this rank (src/parallel/executors/flat_unit.ts), or a whole plain
// parameter — with the names, shapes and offsets of the parameters inside it, so that a checkpoint
// written under one layout is read back under any other by name.
import "../../torch/_generated/tensor_methods.js";
import { no_grad } from "../../torch/autograd/grad_mode.js";
import type { dtype } from "../../torch/dtype.js";
import { Module } from "../../torch/nn/modules/module.js";
import type { Tensor } from "../../torch/tensor.js";
import { FlatUnit } from "../executors/flat_unit.js";

/** One parameter inside a piece: the names it is held under (tied ones share it) and where it sits in the flat piece. */
export interface PieceEntry {
  names: string[];
  shape: number[];
  offset: number;
  numel: number;
}

export interface Piece {
  /** Unique within the model: the unit's name, or the parameter's first name. */
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
  /** This rank's part of full tensors given by entry (weights or optimizer state shaped like them), shaped and typed like `like`. */
  partOf(values: Tensor[], like: Tensor): Tensor;
  /** Puts full weights given by entry into this rank's part. */
  load(values: Tensor[]): void;
}

function unitPiece(unit: FlatUnit, moduleNames: Map<Module, string>): Piece {
  const { layout } = unit;
  return {
    name: unit.name,
    param: unit.shard,
    entries: unit.entries.map((e) => ({
      names: e.owners.map(([m, attr]) => {
        const at = moduleNames.get(m) ?? "";
        return at === "" ? attr : `${at}.${attr}`;
      }),
      shape: e.shape,
      offset: e.offset,
      numel: e.numel,
    })),
    numel: unit.numel,
    chunk: unit.chunk,
    shard_size: layout.shardSize,
    shard_rank: layout.shardRank,
    param_dtype: layout.computeDtype,
    partOf: (values, like) => unit.chunkFrom(values, like.dtype, like.device),
    load: (values) => unit.loadFullTensors(values),
  };
}

function plainPiece(name: string, p: Tensor): Piece {
  return {
    name,
    param: p,
    entries: [{ names: [name], shape: p.shape, offset: 0, numel: p.numel() }],
    numel: p.numel(),
    chunk: p.numel(),
    shard_size: 1,
    shard_rank: 0,
    param_dtype: p.dtype,
    partOf: (values, like) => values[0].to({ dtype: like.dtype, device: like.device, copy: true }).reshape(like.shape),
    load: (values) => no_grad(() => void p.copy_(values[0].reshape(p.shape))),
  };
}

/** The model's pieces in parameter order (applying its Advanced Parallelization plan first, if one is pending). */
export function modelPieces(model: Module): Piece[] {
  const params = [...model.named_parameters({ remove_duplicate: false })];
  const moduleNames = new Map<Module, string>();
  for (const [name, m] of model.named_modules(null, "", false)) if (!moduleNames.has(m)) moduleNames.set(m, name);
  const pieces = new Map<Tensor, Piece>();
  for (const [name, p] of params) {
    const known = pieces.get(p);
    if (known !== undefined) {
      // A tied plain parameter: one more name for the same tensor.
      if (FlatUnit.of(p) === null) known.entries[0].names.push(name);
      continue;
    }
    const unit = FlatUnit.of(p);
    pieces.set(p, unit === null ? plainPiece(name, p) : unitPiece(unit, moduleNames));
  }
  return [...pieces.values()];
}

/** The model's persistent buffers by name (what its state_dict holds besides parameters). */
export function persistentBuffers(model: Module): Map<string, Tensor> {
  const params = new Set<Tensor>(model.parameters());
  const out = new Map<string, Tensor>();
  // The Module's own state_dict: an executor may replace the instance's with one that gathers weights.
  for (const [name, t] of Object.entries(Module.prototype.state_dict.call(model, { keep_vars: true }))) if (!params.has(t)) out.set(name, t);
  return out;
}
