// nn.utils.clip_grad_norm_ / clip_grad_value_, as torch/nn/utils/clip_grad.py with its foreach path
// (one _foreach_norm / _foreach_mul_ call per device and dtype). Parameters marked as shards
// (distributed/_sharding.ts) count as the full tensors they are parts of, as DTensor parameters do
// in PyTorch: their partial norms are reduced over their shard group.
import { NotImplementedError, RuntimeError } from "../../errors.js";
import { Tensor } from "../../tensor.js";
import type { device } from "../../device.js";
import { float32, float64 } from "../../dtype.js";
import { no_grad } from "../../autograd/grad_mode.js";
import {
  _foreach_clamp_max_,
  _foreach_clamp_min_,
  _foreach_mul_,
  _foreach_norm,
  clamp,
  full,
  linalg_vector_norm,
  stack,
} from "../../_generated/functions.js";
import { tensor } from "../../creation.js";
import { all_reduce, ReduceOp } from "../../distributed/collectives.js";
import { _resolve, type ProcessGroup } from "../../distributed/process_group.js";
import { _any_sharded, _shard_group } from "../../distributed/_sharding.js";

export type TensorOrTensors = Tensor | Iterable<Tensor>;

function gradsOf(parameters: TensorOrTensors): Tensor[] {
  const params = parameters instanceof Tensor ? [parameters] : [...parameters];
  const grads: Tensor[] = [];
  for (const p of params) {
    const g = p.grad;
    if (g !== null) grads.push(g);
  }
  return grads;
}

/** Tensors grouped by (device, dtype), in first-seen order, as _group_tensors_by_device_and_dtype. */
export function groupByDeviceAndDtype(tensors: Tensor[]): Tensor[][] {
  const groups = new Map<string, Tensor[]>();
  for (const t of tensors) {
    const k = `${t.device}|${t.dtype.name}`;
    const g = groups.get(k);
    if (g === undefined) groups.set(k, [t]);
    else g.push(t);
  }
  return [...groups.values()];
}

function normType(n: number | "inf"): number {
  return n === "inf" ? Infinity : n;
}

/** One shard group's local tensors, and where its partial norm lives when it has none here. */
interface ShardSet {
  tensors: Tensor[];
  device: device;
}

/**
 * Splits `items` into unsharded tensors and shard groups, by the marks on the items; `tensorOf`
 * gives the tensor to measure (a parameter's gradient). A marked item without one still joins its
 * group's reduction, so no rank of the group waits alone.
 */
function splitShards(
  items: Tensor[],
  tensorOf: (item: Tensor) => Tensor | null,
): { plain: Tensor[]; shards: Map<ProcessGroup, ShardSet> | null } {
  const plain: Tensor[] = [];
  const shards = new Map<ProcessGroup, ShardSet>();
  for (const item of items) {
    const t = tensorOf(item);
    const group = _shard_group(item);
    if (group === undefined) {
      if (t !== null) plain.push(t);
      continue;
    }
    const pg = _resolve(group, "clip_grad_norm_");
    if (pg === null) throw new Error("clip_grad_norm_: a tensor is marked as a shard over a group this rank is not a member of");
    const set = shards.get(pg);
    if (set === undefined) shards.set(pg, { tensors: t === null ? [] : [t], device: item.device });
    else if (t !== null) set.tensors.push(t);
  }
  return { plain, shards: shards.size === 0 ? null : shards };
}

/** The norm of each tensor, on `to`. */
function localNorms(tensors: Tensor[], ord: number, to: device): Tensor[] {
  const norms: Tensor[] = [];
  for (const group of groupByDeviceAndDtype(tensors)) norms.push(..._foreach_norm(group, ord));
  return norms.map((n) => n.to(to));
}

/**
 * The norm of the full tensors whose local shards are `set`: every rank of `pg` reduces its partial
 * (sum of norm^p, or the max/min for ±inf), so every rank of the group must call this for the group,
 * in the same order, with or without local gradients. Accumulated in float32 at least, since norm^p
 * overflows half precision long before the norm does.
 */
function shardedNorm(set: ShardSet, pg: ProcessGroup, ord: number): Tensor {
  if (ord === 0) throw new NotImplementedError("clip_grad_norm_: norm_type 0 is not supported for sharded tensors");
  const norms = localNorms(set.tensors, ord, set.device);
  // With no local shard, the value that leaves the reduction unchanged (inf^p = 0 for p < 0).
  const local =
    norms.length === 0 ? full([], ord < 0 ? Infinity : 0, { dtype: float32, device: set.device }) : linalg_vector_norm(stack(norms), ord);
  const wide = local.dtype === float64 ? local : local.to(float32);
  if (Math.abs(ord) === Infinity) {
    all_reduce(wide, ord > 0 ? ReduceOp.MAX : ReduceOp.MIN, { group: pg });
    return wide.to(local.dtype);
  }
  const partial = wide.pow(ord);
  all_reduce(partial, ReduceOp.SUM, { group: pg });
  return partial.pow(1 / ord).to(local.dtype);
}

/**
 * The shard groups smallest first, then by their ranks: one order for every rank, so that ranks in
 * several groups (pipeline stages, tensor-parallel slices) never wait on each other's reductions
 * in opposite orders.
 */
function inGlobalOrder(shards: Map<ProcessGroup, ShardSet>): Array<[ProcessGroup, ShardSet]> {
  const key = (pg: ProcessGroup): string => pg.ranks.map((r) => String(r).padStart(8, "0")).join(",");
  return [...shards].sort(([a], [b]) => a.ranks.length - b.ranks.length || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

function totalNorm(plain: Tensor[], shards: Map<ProcessGroup, ShardSet> | null, ord: number, error_if_nonfinite: boolean): Tensor {
  const first = plain.length > 0 ? plain[0].device : shards?.values().next().value?.device;
  if (first === undefined) return tensor(0.0);
  return no_grad(() => {
    const norms = localNorms(plain, ord, first);
    if (shards !== null) for (const [pg, set] of inGlobalOrder(shards)) norms.push(shardedNorm(set, pg, ord).to(first));
    const total = linalg_vector_norm(stack(norms), ord);
    if (error_if_nonfinite && !total.isfinite().item()) {
      throw new RuntimeError(
        `The total norm of order ${ord === Infinity ? "inf" : ord.toFixed(1)} for gradients from \`parameters\` is non-finite, so it cannot be clipped. To disable this error and scale the gradients by the non-finite norm anyway, set \`error_if_nonfinite=False\``,
      );
    }
    return total;
  });
}

/**
 * The norm of all `tensors` together. A tensor marked as a shard (`_mark_sharded`) counts as the
 * full tensor it is part of, which takes a collective over its group on every rank of that group.
 */
export function get_total_norm(tensors: TensorOrTensors, norm_type: number | "inf" = 2.0, error_if_nonfinite = false): Tensor {
  const list = tensors instanceof Tensor ? [tensors] : [...tensors];
  if (!_any_sharded()) return totalNorm(list, null, normType(norm_type), error_if_nonfinite);
  const { plain, shards } = splitShards(list, (t) => t);
  return totalNorm(plain, shards, normType(norm_type), error_if_nonfinite);
}

export function clip_grads_with_norm_(parameters: TensorOrTensors, max_norm: number, total_norm: Tensor): void {
  const grads = gradsOf(parameters);
  if (grads.length === 0) return;
  no_grad(() => {
    const coef = clamp(total_norm.add(1e-6).reciprocal().mul(max_norm), null, 1.0);
    for (const group of groupByDeviceAndDtype(grads)) _foreach_mul_(group, coef.to(group[0].device));
  });
}

/** Scales the gradients so their joint norm is at most max_norm; returns the norm before clipping. */
export function clip_grad_norm_(
  parameters: TensorOrTensors,
  max_norm: number,
  norm_type: number | "inf" = 2.0,
  error_if_nonfinite = false,
): Tensor {
  const params = parameters instanceof Tensor ? [parameters] : [...parameters];
  let total: Tensor;
  if (_any_sharded()) {
    // The marks are on the parameters: `.grad` makes a new Tensor object per read.
    const { plain, shards } = splitShards(params, (p) => p.grad);
    total = totalNorm(plain, shards, normType(norm_type), error_if_nonfinite);
  } else {
    total = get_total_norm(gradsOf(params), norm_type, error_if_nonfinite);
  }
  clip_grads_with_norm_(params, max_norm, total);
  return total;
}

/** Clamps every gradient to [-clip_value, clip_value] in place. */
export function clip_grad_value_(parameters: TensorOrTensors, clip_value: number): void {
  no_grad(() => {
    for (const group of groupByDeviceAndDtype(gradsOf(parameters))) {
      _foreach_clamp_min_(group, -clip_value);
      _foreach_clamp_max_(group, clip_value);
    }
  });
}
