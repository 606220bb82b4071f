// clip_grad_norm_ / get_total_norm over parameters sharded across the ranks (_mark_sharded), beside
// the same call on this one process over the full, unsharded tensors.
import { torch } from "../../../src/index.js";
import type { Tensor } from "../../../src/torch/tensor.js";
import type { Group } from "../../../src/torch/distributed/index.js";
import { _mark_sharded } from "../../../src/torch/distributed/_sharding.js";
import { dist, join, report } from "./_init.js";

const { rank, world } = join();
const out: Record<string, unknown> = {};
const pair = dist.new_group([0, 1]);

/** A parameter whose gradient is `grad` (a detached copy; null leaves it without one). */
function param(shape: number[], grad: Tensor | null): Tensor {
  const p = torch.zeros(shape, { dtype: grad?.dtype ?? torch.float32 }).requires_grad_();
  p.grad = grad === null ? null : grad.clone();
  return p;
}

const list = (t: Tensor | null): number[] => (t === null ? [] : (t.tolist() as number[]));

// Rank 0 holds the first 3 elements of `full`, rank 1 the other 7 (uneven on purpose).
function shardOf(full: Tensor): Tensor {
  return rank === 0 ? full.narrow(0, 0, 3) : full.narrow(0, 3, full.shape[0] - 3);
}

function run(name: string, norm_type: number | "inf", group: Group | null, dtype: typeof torch.float32): void {
  torch.manual_seed(1); // the same full gradients on every rank
  const full = torch.randn(10, { dtype }).mul(3);
  const replicated = torch.randn(4, { dtype });
  const shard = param([rank === 0 ? 3 : 7], shardOf(full));
  _mark_sharded(shard, group);
  const rep = param([4], replicated);
  const total = torch.nn.utils.clip_grad_norm_([shard, rep], 1.0, norm_type);

  // One process, unsharded: the reference.
  const refFull = param([10], full);
  const refRep = param([4], replicated);
  const refTotal = torch.nn.utils.clip_grad_norm_([refFull, refRep], 1.0, norm_type);
  out[name] = {
    total: total.item(),
    refTotal: refTotal.item(),
    shard: list(shard.grad),
    refShard: list(shardOf(refFull.grad!)),
    rep: list(rep.grad),
    refRep: list(refRep.grad),
  };
}

run("l2", 2, null, torch.float32);
run("inf", "inf", pair, torch.float32);
run("l3_f64", 3, pair, torch.float64);

// A sharded parameter whose shard is empty here (no gradient on rank 1) still joins its group's
// reduction; get_total_norm reads the marks on the tensors it is given.
{
  torch.manual_seed(2);
  const a = torch.randn(10);
  const b = torch.randn(5);
  const shardA = param([rank === 0 ? 3 : 7], shardOf(a));
  _mark_sharded(shardA, null);
  const shardB = param([rank === 0 ? 5 : 0], rank === 0 ? b : null);
  _mark_sharded(shardB, pair);
  const total = torch.nn.utils.clip_grad_norm_([shardA, shardB], 1e9);
  const g = shardA.grad!;
  _mark_sharded(g, null);
  const viaGrads = torch.nn.utils.get_total_norm([g]);
  out.nograd = {
    total: total.item(),
    refTotal: torch.cat([a, b]).norm().item(),
    viaGrads: viaGrads.item(),
    refViaGrads: a.norm().item(),
  };
}

out.world = world;
report(out);
dist.destroy_process_group();
