// The communication of Megatron-style tensor parallelism as autograd functions (Shoeybi et al. 2019,
// "f" and "g"; Korthikanti et al. 2022 for sequence parallelism): each is one collective over the
// tensor-parallel group in forward and its conjugate in backward. Sequence shards are contiguous
// chunks of dimension 1 ([batch, seq, hidden]), in group-rank order.
import "../../torch/_generated/tensor_methods.js";
import { empty } from "../../torch/_generated/functions.js";
import { Function, type FunctionCtx } from "../../torch/autograd/function.js";
import * as dist from "../../torch/distributed/index.js";
import type { ProcessGroup } from "../../torch/distributed/process_group.js";
import { handOver } from "../../torch/_callbacks.js";
import { scope } from "../../torch/memory.js";
import type { Tensor } from "../../torch/tensor.js";

// A backward's gradients are the autograd engine's once it returns (it keeps its own references),
// and the gradient it is handed is read only there: each tensor-parallel backward runs in a scope and
// lets go of both handles at once (handOver), so that their memory does not wait for V8's collector.
/** Runs a tensor-parallel Function's backward body on `grad`, its handles released as above. */
export function backwardOf<T extends ReadonlyArray<Tensor | null>>(grad: Tensor, body: () => T): T {
  const grads = scope(body);
  const out = grads.filter((t): t is Tensor => t !== null);
  if (!out.includes(grad)) grad.dispose();
  handOver(out);
  return grads;
}

function allReduced(t: Tensor, group: ProcessGroup): Tensor {
  const out = t.contiguous().clone();
  dist.all_reduce(out, { op: dist.ReduceOp.SUM, group });
  return out;
}

/** All-gathers `t` along `dim` over `group` (every rank's chunk in group-rank order); no autograd. */
export function gathered(t: Tensor, group: ProcessGroup, dim: number): Tensor {
  const n = group.size();
  const src = t.movedim(dim, 0).contiguous();
  const out = empty([n * src.size(0), ...src.shape.slice(1)], { dtype: t.dtype, device: t.device });
  dist.all_gather_into_tensor(out, src, { group });
  return out.movedim(0, dim);
}

/** Sums `t` over `group` and keeps this rank's chunk along `dim`. */
function reduceScattered(t: Tensor, group: ProcessGroup, dim: number): Tensor {
  const n = group.size();
  const src = t.movedim(dim, 0).contiguous();
  if (src.size(0) % n !== 0) throw new Error(`tensor parallel: dimension ${dim} of size ${src.size(0)} does not split over ${n} ranks`);
  const out = empty([src.size(0) / n, ...src.shape.slice(1)], { dtype: t.dtype, device: t.device });
  dist.reduce_scatter_tensor(out, src, dist.ReduceOp.SUM, { group });
  return out.movedim(0, dim);
}

function chunkOf(t: Tensor, group: ProcessGroup, dim: number): Tensor {
  const n = group.size();
  if (t.size(dim) % n !== 0) throw new Error(`tensor parallel: dimension ${dim} of size ${t.size(dim)} does not split over ${n} ranks`);
  const size = t.size(dim) / n;
  return t.narrow(dim, group.rank() * size, size);
}

// f: identity forward, all-reduce backward.
class CopyToGroup extends Function {
  static override forward(ctx: FunctionCtx, x: Tensor, group: ProcessGroup): Tensor {
    ctx.group = group;
    return x;
  }

  static override backward(ctx: FunctionCtx, grad: Tensor): [Tensor, null] {
    return backwardOf(grad, () => [allReduced(grad, ctx.group as ProcessGroup), null]);
  }
}

// g: all-reduce forward, identity backward.
class ReduceFromGroup extends Function {
  static override forward(_ctx: FunctionCtx, x: Tensor, group: ProcessGroup): Tensor {
    return allReduced(x, group);
  }

  static override backward(_ctx: FunctionCtx, grad: Tensor): [Tensor, null] {
    return backwardOf(grad, () => [grad, null]);
  }
}

// SP's g: all-gather forward, reduce-scatter backward.
class GatherShards extends Function {
  static override forward(ctx: FunctionCtx, x: Tensor, group: ProcessGroup, dim: number): Tensor {
    Object.assign(ctx, { group, dim });
    return gathered(x, group, dim);
  }

  static override backward(ctx: FunctionCtx, grad: Tensor): [Tensor, null, null] {
    return backwardOf(grad, () => [reduceScattered(grad, ctx.group as ProcessGroup, ctx.dim as number), null, null]);
  }
}

// SP's ḡ: reduce-scatter forward, all-gather backward.
class ReduceScatterShards extends Function {
  static override forward(ctx: FunctionCtx, x: Tensor, group: ProcessGroup, dim: number): Tensor {
    Object.assign(ctx, { group, dim });
    return reduceScattered(x, group, dim);
  }

  static override backward(ctx: FunctionCtx, grad: Tensor): [Tensor, null, null] {
    return backwardOf(grad, () => [gathered(grad, ctx.group as ProcessGroup, ctx.dim as number), null, null]);
  }
}

// This rank's chunk forward, all-gather backward (a replicated tensor entering a sharded region).
class SplitShards extends Function {
  static override forward(ctx: FunctionCtx, x: Tensor, group: ProcessGroup, dim: number): Tensor {
    Object.assign(ctx, { group, dim });
    return chunkOf(x, group, dim).contiguous();
  }

  static override backward(ctx: FunctionCtx, grad: Tensor): [Tensor, null, null] {
    return backwardOf(grad, () => [gathered(grad, ctx.group as ProcessGroup, ctx.dim as number), null, null]);
  }
}

// All-gather forward, this rank's chunk backward (a sharded tensor leaving for replicated code; every
// rank then computes the same thing, so each one's gradient is the whole one).
class GatherReplicated extends Function {
  static override forward(ctx: FunctionCtx, x: Tensor, group: ProcessGroup, dim: number): Tensor {
    Object.assign(ctx, { group, dim });
    return gathered(x, group, dim);
  }

  static override backward(ctx: FunctionCtx, grad: Tensor): [Tensor, null, null] {
    return backwardOf(grad, () => [chunkOf(grad, ctx.group as ProcessGroup, ctx.dim as number), null, null]);
  }
}

/** Identity forward, gradient summed over `group` backward: a replicated input entering column-parallel layers, or a replicated parameter whose uses see only part of the data. */
export function copyToGroup(x: Tensor, group: ProcessGroup): Tensor {
  return CopyToGroup.apply(x, group);
}

/** Summed over `group` forward, identity backward: the partial outputs of row-parallel layers. */
export function reduceFromGroup(x: Tensor, group: ProcessGroup): Tensor {
  return ReduceFromGroup.apply(x, group);
}

/** Shards (of the sequence, or of a weight) all-gathered along `dim` forward, gradient reduce-scattered backward. */
export function gatherShards(x: Tensor, group: ProcessGroup, dim = 1): Tensor {
  return GatherShards.apply(x, group, dim);
}

/** Partial outputs summed and split along `dim` forward, gradient all-gathered backward. */
export function reduceScatterShards(x: Tensor, group: ProcessGroup, dim = 1): Tensor {
  return ReduceScatterShards.apply(x, group, dim);
}

/** This rank's chunk of a replicated tensor along `dim` forward, gradient all-gathered backward. */
export function splitShards(x: Tensor, group: ProcessGroup, dim = 1): Tensor {
  return SplitShards.apply(x, group, dim);
}

/** Every rank's chunk concatenated along `dim` forward, this rank's chunk of the gradient backward. */
export function gatherReplicated(x: Tensor, group: ProcessGroup, dim: number): Tensor {
  return GatherReplicated.apply(x, group, dim);
}
