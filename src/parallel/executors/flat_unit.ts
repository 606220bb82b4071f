// One unit of sharded data parallelism (ZeRO / FSDP): the parameters of one module (a decoder
// layer, or what the layers leave of the model) flattened into one padded buffer, of which each
// rank of the shard group owns one contiguous chunk. The chunk is the nn.Parameter the optimizer
// updates (fp32 master weights under mixed precision, in CPU memory under offload). Before the
// module runs, the chunks are all-gathered into the full buffer in the compute dtype and the
// module's attributes become views of it, through an autograd node whose backward reduces the
// full gradient back onto the chunks: reduce-scatter over the shard group, all-reduce over the
// replicas (hybrid sharding), in fp32. Under ZeRO-3 the full buffer's memory is freed after use
// and gathered again for backward; views saved by autograd point into the same storage.
import "../../torch/_generated/tensor_methods.js";
import { empty, zeros } from "../../torch/_generated/functions.js";
import { Function, type FunctionCtx } from "../../torch/autograd/function.js";
import { no_grad } from "../../torch/autograd/grad_mode.js";
import * as dist from "../../torch/distributed/index.js";
import type { Group } from "../../torch/distributed/process_group.js";
import type { Work } from "../../torch/distributed/work.js";
import { _mark_sharded, _set_logical_numel } from "../../torch/distributed/_sharding.js";
import type { device } from "../../torch/device.js";
import type { dtype } from "../../torch/dtype.js";
import { escape, scope } from "../../torch/memory.js";
import type { Module } from "../../torch/nn/modules/module.js";
import { Parameter } from "../../torch/nn/parameter.js";
import { _resize_storage_bytes_ } from "../../torch/_storage.js";
import type { Tensor } from "../../torch/tensor.js";

/** Where a unit's chunks live and how its gradients are reduced. */
export interface ShardingLayout {
  /** The ranks that split each unit between them (null: no sharding, one rank holds it all). */
  shardGroup: Group | null;
  shardSize: number;
  shardRank: number;
  /** The ranks holding the same chunk (hybrid sharding, or plain data parallel): gradients are all-reduced over them. */
  replicateGroup: Group | null;
  replicateSize: number;
  /** 0: replicated; 1: optimizer state sharded; 2: also gradients; 3: also parameters. */
  zero: 0 | 1 | 2 | 3;
  computeDtype: dtype;
  /** The optimizer's dtype: fp32 when computing in 16 bits (mixed precision), else the compute dtype. */
  masterDtype: dtype;
  computeDevice: device;
  /** The chunk's device: the CPU under optimizer offload. */
  masterDevice: device;
}

/** One parameter of the unit: where it sits in the flat buffer and which module attributes hold it. */
interface Entry {
  owners: Array<[Module, string]>;
  shape: number[];
  numel: number;
  offset: number;
}

function setAttribute(module: Module, name: string, value: Tensor | Parameter): void {
  (module as unknown as { _setSlot(n: string, v: unknown): void })._setSlot(name, value);
}

/** Each chunk's unit, so that code holding only the model's parameters (checkpoints) finds the layout. */
const unitOfShard = new WeakMap<Tensor, FlatUnit>();

export class FlatUnit {
  /** The unit whose chunk `param` is, or null for any other tensor. */
  static of(param: Tensor): FlatUnit | null {
    return unitOfShard.get(param) ?? null;
  }

  readonly entries: Entry[];
  readonly numel: number;
  private readonly sizes: number[];
  readonly chunk: number;
  /** This rank's chunk: what model.parameters() yields and the optimizer updates. */
  readonly shard: Parameter;
  /** The unit's full parameters in the compute dtype (memory freed between uses under ZeRO-3). */
  readonly full: Tensor;
  private readonly fullBytes: number;
  private readonly aliased: boolean;
  // Another tensor on the full buffer's storage with its own version counter: refilling the buffer
  // for backward must not look like an in-place change to the views autograd saved.
  private readonly writer: Tensor;
  private resident = true;
  /** Where this unit's reductions overlap the rest of backward (set by the sharded model), or null: reduce at once. */
  queue: ReduceQueue | null = null;
  /** The root unit's node runs last in backward (the layers' nodes take its weights as an input). */
  isRoot = false;
  /** An all-gather started ahead of use (the next layer's, while this one computes). */
  private inflightGather: { work: Work; src: Tensor; version: number } | null = null;
  /** A gradient reduction started in backward and finished later (it overlaps the next unit's backward). */
  private inflightReduce: { work: Work; g: Tensor; out: Tensor; full: boolean } | null = null;
  /**
   * Whether the chunks may have changed since the last gather: a backward reduced a gradient (an
   * optimizer step follows it, and fused/foreach steps do not move the chunk's `_version()`), the
   * chunk was loaded, or its version moved.
   */
  private dirty = true;
  private gatheredVersion = -1;
  /**
   * The full buffer's `_version()` when it was last filled: a forward that edits its weights in place
   * (Baichuan2's NormHead normalises its rows on the first eval forward) moves it.
   */
  private filledVersion = -1;
  /** The last full gradient under ZeRO-1 (kept, as DeepSpeed's stage 1 keeps it; the chunk's .grad is a view of it). */
  private fullGrad: Tensor | null = null;
  /**
   * While holding (a pipeline's micro-batches, pipeline.ts), each backward's full gradient is summed
   * here in the master dtype instead of reduced; reduceHeld() reduces the sum once, scaled.
   */
  private holding = false;
  private held: Tensor | null = null;

  /**
   * Flattens `params` (each with its module attributes, tied parameters once) and keeps this rank's
   * chunk. The parameters must agree on dtype, device and requires_grad.
   */
  constructor(
    readonly name: string,
    params: Array<{ param: Tensor; owners: Array<[Module, string]> }>,
    readonly layout: ShardingLayout,
  ) {
    let offset = 0;
    this.entries = params.map(({ param, owners }) => {
      const e = { owners, shape: param.shape, numel: param.numel(), offset };
      offset += e.numel;
      return e;
    });
    this.numel = offset;
    this.sizes = this.entries.map((e) => e.numel);
    this.chunk = Math.ceil(offset / layout.shardSize);
    const padded = this.chunk * layout.shardSize;
    const trainable = params[0].param.requires_grad;
    // In a scope: the temporary views of the parameters must not keep their memory alive until a GC.
    this.full = scope(() =>
      no_grad(() => {
        const full = zeros(padded, { dtype: layout.computeDtype, device: layout.computeDevice });
        for (const [i, { param }] of params.entries())
          full.narrow(0, this.entries[i].offset, this.entries[i].numel).copy_(param.reshape(-1));
        return full;
      }),
    );
    this.fullBytes = padded * this.full.element_size();
    this.writer = no_grad(() => empty(0, { dtype: layout.computeDtype, device: layout.computeDevice }).set_(this.full));
    const mine = this.full.narrow(0, layout.shardRank * this.chunk, this.chunk);
    // Same dtype and device: the chunk is a view of the full buffer (no second copy) unless ZeRO-3 frees it.
    this.aliased =
      layout.zero < 3 && layout.masterDtype === layout.computeDtype && String(layout.masterDevice) === String(layout.computeDevice);
    const master = this.aliased ? mine : no_grad(() => mine.to({ dtype: layout.masterDtype, device: layout.masterDevice, copy: true }));
    this.shard = new Parameter(master, trainable);
    unitOfShard.set(this.shard, this);
    if (layout.shardSize > 1) _mark_sharded(this.shard, layout.shardGroup);
    _set_logical_numel(this.shard, this.numel);
    if (layout.zero === 3) this.release();
  }

  get trainable(): boolean {
    return this.shard.requires_grad;
  }

  /** Bytes this rank holds for the unit's weights between steps (chunk + resident full buffer). */
  weightBytes(): number {
    const chunkBytes = this.chunk * this.shard.element_size();
    return (this.layout.zero < 3 ? this.fullBytes : 0) + (this.aliased ? 0 : chunkBytes);
  }

  /**
   * Fills the full buffer from every rank's chunk, in the compute dtype, unless it already holds the
   * chunks as they are. Every rank's chunk changes together, so every rank skips together.
   */
  gather(): void {
    if (this.finishGather()) return;
    const version = this.needsFill();
    if (version === null) return;
    scope(() =>
      no_grad(() => {
        const src = this.computeChunk();
        if (this.layout.shardSize === 1) this.writer.copy_(src);
        else dist.all_gather_into_tensor(this.writer, src, { group: this.layout.shardGroup });
      }),
    );
    this.filled(version);
  }

  /** The chunk's version when the full buffer must be filled (its memory made resident), else null. */
  private needsFill(): number | null {
    this.keepEdits();
    const version = this.shard._version();
    if (this.resident && !this.dirty && version === this.gatheredVersion) return null;
    if (!this.resident) {
      _resize_storage_bytes_(this.full, this.fullBytes);
      this.resident = true;
    }
    return version;
  }

  /** This rank's chunk in the compute dtype and device: a copy, as the buffer it is gathered into may hold it. */
  private computeChunk(): Tensor {
    return this.shard.to({ dtype: this.layout.computeDtype, device: this.layout.computeDevice, copy: true });
  }

  private filled(version: number): void {
    this.gatheredVersion = version;
    this.filledVersion = this.full._version();
    this.dirty = false;
  }

  /**
   * Writes in-place edits of the gathered weights back into this rank's chunk (every rank made the
   * same edits), so that the next gather, release or state_dict keeps them.
   */
  private keepEdits(): void {
    if (this.aliased || !this.resident || this.full._version() === this.filledVersion) return;
    const { layout } = this;
    no_grad(() => this.shard.copy_(this.full.narrow(0, layout.shardRank * this.chunk, this.chunk)));
    this.filledVersion = this.full._version();
  }

  /**
   * Starts filling the full buffer (an async all-gather) when it would need filling, so that the
   * gather() at the unit's use only waits; every rank prefetches the same units in the same order.
   */
  prefetch(): void {
    if (this.layout.shardSize === 1 || this.inflightGather !== null) return;
    const version = this.needsFill();
    if (version === null) return;
    const src = no_grad(() => this.computeChunk());
    const work = dist.all_gather_into_tensor(this.writer, src, { group: this.layout.shardGroup, async_op: true });
    this.inflightGather = { work, src, version };
  }

  private finishGather(): boolean {
    const p = this.inflightGather;
    if (p === null) return false;
    this.inflightGather = null;
    p.work.wait();
    p.src.dispose();
    this.filled(p.version);
    return true;
  }

  /** ZeRO-3: frees the full buffer's memory (views keep their shape; gather() refills them). */
  release(): void {
    // Never free memory an all-gather is still writing.
    this.finishGather();
    if (!this.resident) return;
    this.keepEdits();
    _resize_storage_bytes_(this.full, 0);
    this.resident = false;
  }

  /**
   * Gathers the unit and points every module attribute at its view of the full buffer. With grad
   * enabled the views hang off one autograd node whose backward reduces onto the chunk.
   */
  materialize(anchor: Tensor | null = null): Tensor {
    const full = this.trainable ? GatherParams.apply(this, this.shard, anchor) : (this.gather(), this.full);
    // One split, not a narrow per parameter: split's backward writes every parameter's gradient
    // into one full-size gradient, where each narrow's would allocate a full-size one of its own.
    const pad = full.numel() - this.numel;
    const pieces = full.split_with_sizes(pad > 0 ? [...this.sizes, pad] : this.sizes);
    this.entries.forEach((e, i) => {
      const view = pieces[i].view(e.shape);
      for (const [m, n] of e.owners) setAttribute(m, n, view);
    });
    return full;
  }

  /** Holds the gradients of the backwards that follow, dropping any held for a loss that got no backward. */
  holdGradients(): void {
    this.holding = true;
    this.held = null;
    // ZeRO-1's full gradient of an earlier step whose chunk gradient was zeroed is no one's: it goes
    // now, not when the held sum is reduced, so the two are never alive at once.
    if (this.fullGrad !== null && this.shard.grad === null) {
      this.fullGrad.dispose();
      this.fullGrad = null;
    }
  }

  /** Backwards reduce again; what was held waits for reduceHeld(). */
  stopHolding(): void {
    this.holding = false;
  }

  // The held sum outlives the backward that starts it (the pipeline runs each backward in a scope).
  private hold(grad: Tensor): boolean {
    if (!this.holding) return false;
    no_grad(() => {
      if (this.held !== null) this.held.add_(grad);
      else {
        this.held = grad.to({ dtype: this.layout.masterDtype, copy: true });
        escape(this.held);
      }
    });
    return true;
  }

  /** Adds one parameter's gradient (computed elsewhere: a tied weight's other use) to the held sum, at `owner`'s `attr`. */
  holdEntryGradient(owner: Module, attr: string, grad: Tensor): void {
    const e = this.entries.find((entry) => entry.owners.some(([m, n]) => m === owner && n === attr));
    if (e === undefined) throw new Error(`FlatUnit ${this.name}: no entry holds ${attr}`);
    no_grad(() => {
      if (this.held === null) {
        this.held = zeros(this.chunk * this.layout.shardSize, { dtype: this.layout.masterDtype, device: this.layout.computeDevice });
        escape(this.held);
      }
      this.held.narrow(0, e.offset, e.numel).add_(grad.reshape(-1));
    });
  }

  /** Reduces the held sum times `scale` as one backward's gradient, and forgets it (a no-op when nothing was held). */
  reduceHeld(scale: Tensor): void {
    const g = this.held;
    this.held = null;
    if (g === null) return;
    no_grad(() => g.mul_(scale));
    this.reduceGradient(g);
    g.dispose();
  }

  /**
   * The full gradient of one backward: reduced in the master dtype (fp32 under mixed precision) over
   * the shard group (reduce-scatter) and the replicas (all-reduce), averaged over all of them, and
   * accumulated into the chunk's .grad.
   */
  reduceGradient(grad: Tensor): void {
    if (this.hold(grad)) return;
    const { layout } = this;
    const dp = layout.shardSize * layout.replicateSize;
    this.dirty = true;
    // Temporaries are freed as the scope ends, not at a GC; the kept full gradient (ZeRO-1) is returned.
    this.fullGrad = scope(() => no_grad(() => this.reduceInto(grad, dp)));
    if (layout.zero === 3) this.release();
  }

  /**
   * Starts this backward's reduction over the shard group (async) and returns; finishReduce()
   * completes it. Only the shard group's collective overlaps: replicas, offload and accumulation
   * happen at the finish. ZeRO-1 keeps the full reduced gradient, so it all-reduces.
   */
  launchReduce(grad: Tensor): void {
    if (this.hold(grad)) return;
    const { layout } = this;
    this.dirty = true;
    no_grad(() => {
      // Our own handle (detach: a new one even when no conversion is needed) keeps the gradient's
      // memory while the collective reads it; the caller disposes its handle at once.
      const g = grad.detach().to({ dtype: layout.masterDtype }).contiguous();
      const full = layout.zero === 1;
      const out = full ? g : empty(this.chunk, { dtype: layout.masterDtype, device: layout.computeDevice });
      const work = full
        ? dist.all_reduce(g, { op: dist.ReduceOp.SUM, group: layout.shardGroup, async_op: true })
        : dist.reduce_scatter_tensor(out, g, dist.ReduceOp.SUM, { group: layout.shardGroup, async_op: true });
      this.inflightReduce = { work, g, out, full };
    });
  }

  /** Completes a launched reduction: the chunk's .grad gets its share, and ZeRO-3 frees the full buffer. */
  finishReduce(): void {
    const p = this.inflightReduce;
    if (p === null) return;
    this.inflightReduce = null;
    const { layout } = this;
    p.work.wait();
    this.fullGrad = scope(() =>
      no_grad(() => {
        if (layout.replicateSize > 1) dist.all_reduce(p.out, { op: dist.ReduceOp.SUM, group: layout.replicateGroup });
        p.out.div_(layout.shardSize * layout.replicateSize);
        const mine = p.full ? p.out.narrow(0, layout.shardRank * this.chunk, this.chunk) : p.out;
        const onMaster = mine.to({ device: layout.masterDevice });
        const current = this.shard.grad;
        if (current === null) this.shard.grad = onMaster;
        else current.add_(onMaster);
        return p.full ? p.out : null;
      }),
    );
    if (!p.full) p.out.dispose();
    if (!p.full) p.g.dispose();
    if (layout.zero === 3) this.release();
  }

  /** Whether reductions can overlap: only a shard group's collective has anything to overlap. */
  get overlapsReduce(): boolean {
    return this.layout.shardSize > 1;
  }

  private reduceInto(grad: Tensor, dp: number): Tensor | null {
    const { layout } = this;
    let kept: Tensor | null = null;
    const g = grad.to({ dtype: layout.masterDtype }).contiguous();
    let mine: Tensor;
    if (layout.zero === 1 && layout.shardSize > 1) {
      // ZeRO-1 keeps the full reduced gradient, as plain data parallel does; the chunk reads its slice.
      const all = g.clone();
      dist.all_reduce(all, { op: dist.ReduceOp.SUM, group: layout.shardGroup });
      if (layout.replicateSize > 1) dist.all_reduce(all, { op: dist.ReduceOp.SUM, group: layout.replicateGroup });
      all.div_(dp);
      kept = all;
      mine = all.narrow(0, layout.shardRank * this.chunk, this.chunk);
    } else {
      if (layout.shardSize > 1) {
        mine = empty(this.chunk, { dtype: layout.masterDtype, device: layout.computeDevice });
        dist.reduce_scatter_tensor(mine, g, dist.ReduceOp.SUM, { group: layout.shardGroup });
      } else {
        mine = g.clone();
      }
      if (layout.replicateSize > 1) dist.all_reduce(mine, { op: dist.ReduceOp.SUM, group: layout.replicateGroup });
      mine.div_(dp);
    }
    const onMaster = mine.to({ device: layout.masterDevice });
    const current = this.shard.grad;
    if (current === null) this.shard.grad = onMaster;
    else current.add_(onMaster);
    return kept;
  }

  /** Bytes of the chunk's gradient and, under ZeRO-1, of the kept full gradient. */
  gradientBytes(): number {
    const g = this.shard.grad;
    const chunkBytes = g === null ? 0 : g.numel() * g.element_size();
    if (this.fullGrad === null || this.shard.grad === null) return chunkBytes;
    return this.fullGrad.numel() * this.fullGrad.element_size();
  }

  /** The unit's parameters as full tensors in `dtype`, by entry (a collective over the shard group). */
  fullTensors(dt: dtype): Tensor[] {
    const { layout } = this;
    this.keepEdits();
    return scope(() =>
      no_grad(() => {
        const src = this.shard.to({ device: layout.computeDevice });
        const all = layout.shardSize === 1 ? src : empty(this.chunk * layout.shardSize, { dtype: src.dtype, device: layout.computeDevice });
        if (layout.shardSize > 1) dist.all_gather_into_tensor(all, src.contiguous(), { group: layout.shardGroup });
        return this.entries.map((e) => all.narrow(0, e.offset, e.numel).view(e.shape).to({ dtype: dt, copy: true }));
      }),
    );
  }

  /** This rank's chunk of full tensors given by entry (the weights, or optimizer state shaped like them), in `dt` on `dev`. */
  chunkFrom(values: Tensor[], dt: dtype, dev: device): Tensor {
    const { layout } = this;
    return no_grad(() => {
      const flat = zeros(this.chunk * layout.shardSize, { dtype: dt, device: dev });
      this.entries.forEach((e, i) => flat.narrow(0, e.offset, e.numel).copy_(values[i].reshape(-1)));
      return flat.narrow(0, layout.shardRank * this.chunk, this.chunk).clone();
    });
  }

  /** Writes full tensors (by entry) into this rank's chunk; every rank passes the same values. */
  loadFullTensors(values: Tensor[]): void {
    const { layout } = this;
    scope(() => no_grad(() => void this.shard.copy_(this.chunkFrom(values, layout.masterDtype, layout.masterDevice))));
    this.dirty = true;
  }
}

// The autograd node between a unit's chunk and the views its module computes with.
// A layer unit's node also takes the root's gathered weights (`anchor`) as an input: the root's node
// then runs after every layer's, so its backward, the last of the model, is where the reductions
// still in flight are finished.
class GatherParams extends Function {
  static override forward(ctx: FunctionCtx, unit: FlatUnit, _shard: Tensor, anchor: Tensor | null): Tensor {
    ctx.unit = unit;
    ctx.queue = unit.queue !== null && (anchor !== null || unit.isRoot) && unit.overlapsReduce ? unit.queue : null;
    unit.gather();
    return unit.full;
  }

  static override backward(ctx: FunctionCtx, grad: Tensor): [null, null, null] {
    const unit = ctx.unit as FlatUnit;
    const queue = ctx.queue as ReduceQueue | null;
    if (queue === null) unit.reduceGradient(grad);
    else queue.launched(unit, grad);
    // The unit's full gradient is spent: its memory goes now, not at the next GC.
    grad.dispose();
    return [null, null, null];
  }
}

/**
 * The reductions of one backward: each unit's starts when its gradient is complete and is finished
 * when the next unit's starts (so it overlaps that unit's backward), and the root's, the last node,
 * finishes them all before backward returns.
 */
export class ReduceQueue {
  private readonly pending: FlatUnit[] = [];

  launched(unit: FlatUnit, grad: Tensor): void {
    for (const u of this.pending) u.finishReduce();
    this.pending.length = 0;
    unit.launchReduce(grad);
    this.pending.push(unit);
    if (unit.isRoot) this.drain();
  }

  drain(): void {
    for (const u of this.pending) u.finishReduce();
    this.pending.length = 0;
  }
}
