// torch.nn.parallel.DistributedDataParallel: replicates a module's training across the ranks of a
// process group. Parameters and buffers start as rank 0's; gradients are averaged by bucketed
// all-reduces overlapped with backward (see reducer.ts); no_sync() accumulates locally.
import { RuntimeError, ValueError } from "../../errors.js";
import type { Tensor } from "../../tensor.js";
import * as dist from "../../distributed/index.js";
import type { Group } from "../../distributed/process_group.js";
import { no_grad } from "../../autograd/grad_mode.js";
import { Module } from "../modules/module.js";
import { Reducer } from "./reducer.js";
import { checkOptions } from "../../_options.js";

export interface DistributedDataParallelOptions {
  /** The CUDA device the module lives on (one index), as in PyTorch; informational on CPU. */
  device_ids?: number[] | null;
  process_group?: Group | null;
  /** Bucket size for gradient all-reduce, in MiB (default 25). */
  bucket_cap_mb?: number;
  /** Traverse the autograd graph after forward to find parameters that will get no gradient. */
  find_unused_parameters?: boolean;
  /** Broadcast rank 0's buffers before each forward (default true). */
  broadcast_buffers?: boolean;
  /** Each .grad is a view into its all-reduce bucket: one set of gradient memory, not two (default false). */
  gradient_as_bucket_view?: boolean;
}

function tensorsIn(value: unknown, out: Tensor[] = []): Tensor[] {
  if (value !== null && typeof value === "object") {
    if ("_h" in value && typeof (value as Tensor).requires_grad === "boolean") out.push(value as Tensor);
    else for (const v of Array.isArray(value) ? value : Object.values(value)) tensorsIn(v, out);
  }
  return out;
}

interface DdpState {
  reducer: Reducer;
  group: Group | null;
  src: number;
  requireSync: boolean;
  findUnused: boolean;
  broadcastBuffers: boolean;
  deviceIds: number[] | null;
}

export class DistributedDataParallel extends Module {
  module: Module;
  declare private readonly _ddp: DdpState;

  constructor(module: Module, options: DistributedDataParallelOptions = {}) {
    super();
    checkOptions("DistributedDataParallel.__init__", options, {
      device_ids: true,
      process_group: true,
      bucket_cap_mb: true,
      find_unused_parameters: true,
      broadcast_buffers: true,
      gradient_as_bucket_view: true,
    });
    if (!(module instanceof Module)) throw new TypeError("DistributedDataParallel: module must be a torch.nn.Module");
    if (!dist.is_initialized())
      throw new ValueError("DistributedDataParallel: the default process group has not been initialized; call init_process_group first");
    const cap = options.bucket_cap_mb ?? 25;
    if (!(cap > 0)) throw new ValueError(`DistributedDataParallel: bucket_cap_mb must be positive, got ${cap}`);
    this.module = module;
    const group = options.process_group ?? null;
    const params = [...module.parameters()].filter((p) => p.requires_grad);
    if (params.length === 0)
      throw new RuntimeError("DistributedDataParallel is not needed when a module has no parameter that requires a gradient");
    const members = group === null || group === dist.GroupMember.NON_GROUP_MEMBER ? null : group.ranks;
    const state: DdpState = {
      reducer: new Reducer(params, {
        capBytes: cap * 1024 * 1024,
        group,
        findUnused: options.find_unused_parameters ?? false,
        gradientAsBucketView: options.gradient_as_bucket_view ?? false,
      }),
      group,
      src: members === null ? 0 : members[0],
      requireSync: true,
      findUnused: options.find_unused_parameters ?? false,
      broadcastBuffers: options.broadcast_buffers ?? true,
      deviceIds: options.device_ids ?? null,
    };
    Object.defineProperty(this, "_ddp", { value: state, enumerable: false });
    this.sync([...module.parameters(), ...module.buffers()]);
  }

  get device_ids(): number[] | null {
    return this._ddp.deviceIds;
  }

  private sync(tensors: Tensor[]): void {
    no_grad(() => {
      for (const t of tensors) dist.broadcast(t.detach(), this._ddp.src, { group: this._ddp.group });
    });
  }

  override forward(...args: unknown[]): unknown {
    const s = this._ddp;
    if (s.broadcastBuffers) this.sync([...this.module.buffers()]);
    s.reducer.prepare(s.requireSync);
    const out = this.module.forward(...args);
    if (s.findUnused) s.reducer.markUnused(tensorsIn(out).filter((t) => t.requires_grad));
    return out;
  }

  /** Runs `fn` with gradient synchronization off: backward passes accumulate into .grad locally. */
  no_sync<T>(fn: () => T): T {
    const s = this._ddp;
    const before = s.requireSync;
    s.requireSync = false;
    try {
      return fn();
    } finally {
      s.requireSync = before;
    }
  }
}
