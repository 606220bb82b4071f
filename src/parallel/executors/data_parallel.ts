// The data-parallel executor behind the one line (what "apply the plan" means until the TP/PP
// executors exist): every rank holds the whole model, the DataLoader gives each rank a disjoint
// shard of the data, and before each optimizer step the gradients are averaged across ranks, as
// DistributedDataParallel does — but from outside the training script, through torch's hooks.
import "../../torch/_generated/tensor_methods.js";
import { cat, zeros } from "../../torch/_generated/functions.js";
import { no_grad } from "../../torch/autograd/grad_mode.js";
import { tensor } from "../../torch/creation.js";
import * as dist from "../../torch/distributed/index.js";
import { float32, int64 } from "../../torch/dtype.js";
import type { DataShard } from "../../torch/moreh.js";
import { groupByDeviceAndDtype } from "../../torch/optim/optimizer.js";
import type { Tensor } from "../../torch/tensor.js";

/** The world when a multi-rank process group is up, else null (one rank: nothing to apply). */
export function dataParallelWorld(): DataShard | null {
  if (!dist.is_initialized() || dist.get_world_size() < 2) return null;
  return { rank: dist.get_rank(), world_size: dist.get_world_size(), same_order: rank0Order };
}

function rank0Order(indices: number[]): number[] {
  const order = tensor(indices, { dtype: int64 });
  dist.broadcast(order, 0);
  return order.tolist() as number[];
}

// Parameters already made identical across ranks (broadcast from rank 0 at their first step).
const synced = new WeakSet<Tensor>();

/**
 * Averages the gradients of `params` over all ranks: one flat buffer per (device, dtype), one
 * all_reduce SUM each, divided by the world size. A parameter without a gradient on some rank
 * counts as zero there (as in DDP); one without a gradient on every rank keeps none. Parameters
 * seen for the first time are first broadcast from rank 0, so that all ranks step from the same
 * weights even when their seeds differ.
 */
export function averageGradients(params: readonly Tensor[]): void {
  const world = dataParallelWorld();
  if (world === null || params.length === 0) return;
  no_grad(() => {
    for (const p of params) {
      if (synced.has(p)) continue;
      dist.broadcast(p.detach(), 0);
      synced.add(p);
    }
    // Which parameters have a gradient on any rank, so that all-absent ones stay null.
    const present = tensor(params.map((p) => (p.grad === null ? 0 : 1)), { dtype: float32 });
    dist.all_reduce(present, dist.ReduceOp.SUM);
    const anywhere = present.tolist() as number[];
    const reduced = params.filter((_, i) => anywhere[i] > 0);
    if (reduced.length === 0) return;
    for (const [group] of groupByDeviceAndDtype([reduced])) {
      const flat = cat(group.map((p) => (p.grad ?? zeros(p.shape, { dtype: p.dtype, device: p.device })).reshape(-1)));
      dist.all_reduce(flat, dist.ReduceOp.SUM);
      flat.div_(world.world_size);
      let offset = 0;
      for (const p of group) {
        const avg = flat.narrow(0, offset, p.numel()).view(p.shape);
        offset += p.numel();
        if (p.grad === null) p.grad = avg.clone();
        else p.grad.copy_(avg);
      }
    }
  });
}
