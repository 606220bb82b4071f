// DDP's gradient reducer: parameters in buckets (reverse registration order, about bucket_cap_mb
// each, one dtype a bucket). A tensor hook copies each gradient into its bucket as backward produces
// it; a full bucket's all-reduce starts at the next hook (in bucket order, the same on every rank),
// once the AccumulateGrad that follows the hook has run, and overlaps the rest of backward; the hook
// of the last gradient waits for all of them and writes the averaged gradients back. Hooks return a
// broadcast zero, so that AccumulateGrad adds nothing and allocates nothing when .grad exists.
// With gradient_as_bucket_view, each .grad is its parameter's view into the bucket (PyTorch's
// option): one set of gradient memory instead of two. The hook's gradient is freed when the hook
// returns, not when V8 collects its wrapper.
import { RuntimeError } from "../../errors.js";
import type { Tensor } from "../../tensor.js";
import { native } from "../../_native.js";
import { zeros } from "../../_generated/functions.js";
import { escape, scope } from "../../memory.js";
import * as dist from "../../distributed/index.js";
import type { Work } from "../../distributed/work.js";
import type { Group } from "../../distributed/process_group.js";
import { int32 } from "../../dtype.js";

interface Slot {
  param: Tensor;
  bucket: Bucket;
  offset: number;
  numel: number;
  /** The parameter's gradient in the bucket, shaped as the parameter. */
  view: Tensor;
  ready: boolean;
  usedLocally: boolean;
}

interface Bucket {
  slots: Slot[];
  buffer: Tensor;
  pending: number;
  work: Work | null;
}

function buildBuckets(params: Tensor[], capBytes: number): Bucket[] {
  const buckets: Bucket[] = [];
  const open = new Map<string, { params: Tensor[]; bytes: number }>();
  const close = (key: string): void => {
    const b = open.get(key);
    if (b === undefined) return;
    open.delete(key);
    const total = b.params.reduce((n, p) => n + p.numel(), 0);
    const bucket: Bucket = {
      slots: [],
      buffer: zeros(total, { dtype: b.params[0].dtype, device: b.params[0].device }),
      pending: 0,
      work: null,
    };
    let offset = 0;
    for (const p of b.params) {
      const view = bucket.buffer.narrow(0, offset, p.numel()).view(p.shape);
      bucket.slots.push({ param: p, bucket, offset, numel: p.numel(), view, ready: false, usedLocally: false });
      offset += p.numel();
    }
    // The buckets live as long as the reducer, not as long as a scope it was built in.
    escape([bucket.buffer, bucket.slots.map((s) => s.view)]);
    buckets.push(bucket);
  };
  for (const p of [...params].reverse()) {
    const key = `${String(p.dtype)}/${String(p.device)}`;
    const b = open.get(key) ?? { params: [], bytes: 0 };
    open.set(key, b);
    b.params.push(p);
    b.bytes += p.numel() * p.element_size();
    if (b.bytes >= capBytes) close(key);
  }
  for (const key of [...open.keys()]) close(key);
  return buckets;
}

// Parameters some Reducer already averages (a user's DistributedDataParallel, or Advanced
// Parallelization's), so that no second one is attached to them.
const reducing = new WeakSet<Tensor>();

export function _is_reduced(param: Tensor): boolean {
  return reducing.has(param);
}

export class Reducer {
  private readonly buckets: Bucket[];
  private readonly slots = new Map<Tensor, Slot>();
  private readonly group: Group | null;
  private readonly worldSize: number;
  private readonly findUnused: boolean;
  private readonly autoPrepare: boolean;
  private readonly asView: boolean;
  private nextToLaunch = 0;
  private readyBuckets = 0;
  private active = false;
  private started = false;

  /** With `autoPrepare`, the first gradient of a backward arms the reducer (no forward to hook). */
  constructor(
    params: Tensor[],
    options: { capBytes: number; group: Group | null; findUnused: boolean; autoPrepare?: boolean; gradientAsBucketView?: boolean },
  ) {
    this.group = options.group;
    this.worldSize = dist.get_world_size(options.group);
    this.findUnused = options.findUnused;
    this.autoPrepare = options.autoPrepare ?? false;
    this.asView = options.gradientAsBucketView ?? false;
    this.buckets = buildBuckets(params, options.capBytes);
    for (const b of this.buckets) for (const s of b.slots) this.slots.set(s.param, s);
    for (const p of params) {
      reducing.add(p);
      p.register_hook((grad) => this.onGrad(p, grad));
    }
  }

  /** Called at forward: arms the reducer for one synchronized backward (or disarms it under no_sync). */
  prepare(sync: boolean): void {
    if (this.active && this.started)
      throw new Error(
        "DistributedDataParallel: expected to have finished reduction in the prior iteration before starting a new one. " +
          "Some parameters got no gradient; pass find_unused_parameters: true if the model's forward does not use all of them.",
      );
    this.active = sync;
    this.started = false;
    this.nextToLaunch = 0;
    this.readyBuckets = 0;
    for (const b of this.buckets) {
      b.pending = b.slots.length;
      b.work = null;
      for (const s of b.slots) {
        s.ready = false;
        s.usedLocally = false;
      }
    }
  }

  /** With find_unused_parameters: parameters the outputs' graph does not reach are ready now. */
  markUnused(outputs: Tensor[]): void {
    if (!this.active) return;
    const reached = native.distReachableLeaves(outputs);
    const used = new Set<Slot>();
    for (const t of reached) for (const [p, s] of this.slots) if (native.sameTensor(t._h, p._h)) used.add(s);
    for (const s of this.slots.values()) if (!used.has(s)) this.markReady(s, null);
  }

  private onGrad(p: Tensor, grad: Tensor): Tensor | undefined {
    if (!this.active) {
      if (!this.autoPrepare) return undefined;
      this.prepare(true);
    }
    const s = this.slots.get(p);
    if (s === undefined) return undefined;
    this.started = true;
    s.usedLocally = true;
    // The previous hook's AccumulateGrad has run (the engine runs one node at a time): its bucket
    // may start; started earlier, AccumulateGrad would write into a bucket view under the all-reduce.
    this.launchReady();
    scope(() => {
      this.markReady(s, grad);
      if (this.asView && !this.gradIsView(s)) s.param.grad = s.view;
    });
    const zero = zeros([], { dtype: grad.dtype, device: grad.device }).expand(grad.shape);
    grad.dispose();
    return zero;
  }

  private gradIsView(s: Slot): boolean {
    const g = s.param.grad;
    return g !== null && native.sameTensor(g._h, s.view._h);
  }

  private markReady(s: Slot, grad: Tensor | null): void {
    if (s.ready)
      throw new RuntimeError(
        "DistributedDataParallel: a parameter was marked ready twice in one backward (was the graph used for backward twice?)",
      );
    s.ready = true;
    const local = s.param.grad;
    if (local !== null && this.gradIsView(s)) {
      // no_sync backward passes accumulated into the bucket already.
      if (grad !== null) s.view.add_(grad);
    } else if (grad === null) {
      if (local === null) s.view.zero_();
      else s.view.copy_(local);
    } else {
      s.view.copy_(grad);
      if (local !== null) s.view.add_(local);
    }
    if (--s.bucket.pending === 0 && ++this.readyBuckets === this.buckets.length) this.finalize();
  }

  // Buckets start in index order on every rank, so the collectives pair up across ranks.
  private launchReady(): void {
    while (this.nextToLaunch < this.buckets.length && this.buckets[this.nextToLaunch].pending === 0) {
      const b = this.buckets[this.nextToLaunch++];
      b.work = dist.all_reduce(b.buffer, { op: dist.ReduceOp.SUM, group: this.group, async_op: true });
    }
  }

  private finalize(): void {
    this.launchReady();
    const used = this.findUnused ? this.globallyUsed() : null;
    for (const b of this.buckets) {
      b.work?.wait();
      b.buffer.div_(this.worldSize);
      scope(() => {
        for (const s of b.slots) {
          const local = s.param.grad;
          if (used !== null && !used.has(s) && local === null) continue;
          if (this.asView) {
            if (!this.gradIsView(s)) s.param.grad = s.view;
          } else if (local === null) s.param.grad = s.view.clone();
          else local.copy_(s.view);
        }
      });
    }
    this.active = false;
  }

  // Which parameters got a gradient on any rank (PyTorch's local_used_map all-reduce).
  private globallyUsed(): Set<Slot> {
    const all = [...this.slots.values()];
    const map = zeros(all.length, { dtype: int32 });
    all.forEach((s, i) => s.usedLocally && map.narrow(0, i, 1).fill_(1));
    dist.all_reduce(map, { op: dist.ReduceOp.MAX, group: this.group });
    const flags = map.tolist() as number[];
    return new Set(all.filter((_, i) => flags[i] > 0));
  }
}
