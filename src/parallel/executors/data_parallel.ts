// Plain data parallelism for parameters that no sharded plan manages (ZeRO-0 without mixed
// precision, the parameters of plain nn modules, LoRA adapters added after the model was planned;
// not those a user's own DistributedDataParallel already reduces):
// when an optimizer is built over them they start as rank 0's, and DDP's bucketed Reducer averages
// their gradients over the ranks as backward produces them, overlapped with it. Each .grad is a view
// into its bucket (gradient_as_bucket_view): the planner counts one set of gradients.
import { no_grad } from "../../torch/autograd/grad_mode.js";
import * as dist from "../../torch/distributed/index.js";
import type { ProcessGroup } from "../../torch/distributed/process_group.js";
import { Reducer, _is_reduced } from "../../torch/nn/parallel/reducer.js";
import type { Tensor } from "../../torch/tensor.js";
import { DDP_BUCKET_BYTES } from "./buckets.js";

export class ReplicatedParams {
  private readonly managed = new WeakSet<Tensor>();
  /** The data-parallel peers (null: every rank), and how many they are (null: the job's size). */
  private group: ProcessGroup | null = null;
  private size: number | null = null;

  /** Reduces over `group` of `size` ranks from now on (under tensor parallelism: the ranks with this TP rank). */
  useGroup(group: ProcessGroup | null, size: number): void {
    this.group = group;
    this.size = size;
  }

  /** Parameters a sharded plan reduces itself. */
  manage(params: Iterable<Tensor>): void {
    for (const p of params) this.managed.add(p);
  }

  /** Syncs and starts reducing the gradients of the optimizer's parameters not yet handled (every rank calls it). */
  attach(params: readonly Tensor[]): void {
    if (!dist.is_initialized() || (this.size ?? dist.get_world_size()) < 2) return;
    const fresh = params.filter((p) => p.requires_grad && !this.managed.has(p) && !_is_reduced(p));
    if (fresh.length === 0) return;
    const group = this.group;
    no_grad(() => {
      for (const p of fresh) dist.broadcast(p.detach(), group === null ? 0 : group.ranks[0], { group });
    });
    new Reducer(fresh, { capBytes: DDP_BUCKET_BYTES, group, findUnused: false, autoPrepare: true, gradientAsBucketView: true });
  }
}
