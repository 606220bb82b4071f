// torch.moreh: the seed's one line, `torch.moreh.option.enable_advanced_parallelization()`.
// The torch layer keeps the switch and the few places where torch itself must ask the runtime:
// which share of a global batch a DataLoader reads, and which model was just built (so that the
// plan is applied to it once, before its parameters are first handed out or it first runs), and
// which parameters an optimizer was built over (those of plain modules get data parallelism). What
// enabling does — launching ranks, planning, applying the plan — lives in higher layers, which
// register it here (src/launch/advanced_parallelization.ts, loaded by the package entry
// `tessera`), so that arrows only point down.
import type { Backend } from "./distributed/process_group.js";
import type { Tensor } from "./tensor.js";
import { native } from "./_native.js";
import { checkOptions } from "./_options.js";

/** The plan keys of `tessera plan --json` (any subset; the rest is searched). */
export interface PlanChoices {
  dp?: number;
  tp?: number;
  pp?: number;
  vpp?: number;
  micro_batch?: number;
  grad_accum?: number;
  zero?: 0 | 1 | 2 | 3;
  recompute?: "none" | "selective" | "full";
  recompute_layers?: number;
  sequence_parallel?: boolean;
  offload?: "none" | "optimizer" | "optimizer+params";
  hybrid_shard?: boolean;
}

export interface AdvancedParallelizationOptions {
  /** Plan choices to hold; the rest is searched. Default: TESSERA_PLAN (set by `tessera run --plan`), else none. */
  plan?: PlanChoices;
  /** Ranks wanted; default: the CUDA device count, else TESSERA_NPROC, else 1. */
  nprocs?: number;
  /** "gloo" or "nccl"; default nccl on CUDA, gloo on CPU. */
  backend?: Backend;
  /** Planner hardware: a preset name or a hardware profile JSON file (default: "h100-sxm-80gb" on CUDA, "cpu" otherwise). */
  hardware?: string;
  /** Sequence length the plan is for (default: the model's max_position_embeddings, at most 2048). */
  seq_len?: number;
  /** Sequences per optimizer step the plan is for (default: one per rank). The DataLoader's batch_size is the real one. */
  global_batch?: number;
}

/** Which share of every global batch this rank reads. */
export interface DataShard {
  rank: number;
  world_size: number;
  /** Rank 0's order of a pass, so that the shares stay disjoint even if the ranks' generators drifted apart. */
  same_order(indices: number[]): number[];
}

/** What a higher layer registers: the one line's effect and the seam where a plan is applied. */
export interface AdvancedParallelizationImpl {
  enable(options: AdvancedParallelizationOptions): void;
  /** The shard a DataLoader without its own batch sampler reads, or null when the data is not split. */
  data_shard(): DataShard | null;
  /** Plans for `model` and applies the plan to it (once per model). */
  apply(model: object): void;
  /**
   * A loader built `model` on the meta device and can read each weight by name: when the plan shards
   * the weights (ZeRO-3), applies it reading only this rank's units, one at a time, and returns
   * true; otherwise false (the loader fills the model in whole, and the plan comes at first use).
   */
  load_sharded(model: object, read: (names: string[], like: Tensor) => Tensor): boolean;
  /** An optimizer was built over `params`: the data-parallel reduction of those no plan manages yet. */
  optimizer_created(params: readonly Tensor[]): void;
  /** The plan applied so far, with every key of PlanChoices, or null before a model was built. */
  applied_plan(): Required<PlanChoices> | null;
}

let impl: AdvancedParallelizationImpl | null = null;
let enabled = false;

export function _register_advanced_parallelization(implementation: AdvancedParallelizationImpl): void {
  impl = implementation;
}

function registered(): AdvancedParallelizationImpl {
  if (impl === null) {
    throw new Error(
      "torch.moreh.option.enable_advanced_parallelization(): no Advanced Parallelization runtime is registered; " +
        'import torch from "tessera" (the package entry, src/index.ts), not from its torch module alone',
    );
  }
  return impl;
}

export const option = {
  /** Makes this process one rank of a job over every local device (see src/launch/self_launch.ts) and plans each model built after it. */
  enable_advanced_parallelization(options: AdvancedParallelizationOptions = {}): void {
    checkOptions("enable_advanced_parallelization", options, {
      plan: true,
      nprocs: true,
      backend: true,
      hardware: true,
      seq_len: true,
      global_batch: true,
    });
    const runtime = registered();
    runtime.enable(options);
    enabled = true;
  },
  disable_advanced_parallelization(): void {
    enabled = false;
  },
  is_enabled_advanced_parallelization(): boolean {
    return enabled;
  },
};

/** The full plan applied to the model of this job (every key), or null when Advanced Parallelization is off. */
export function applied_plan(): Required<PlanChoices> | null {
  return enabled && impl !== null ? impl.applied_plan() : null;
}

/**
 * Whether `.cuda()` names the CPU: under the one line the job is one virtual device and `.cuda()` is
 * that device (as on MoAI), so on a machine without CUDA the seed's script moves nothing.
 */
export function _cuda_is_the_cpu(): boolean {
  return enabled && !native.cudaIsAvailable();
}

/** The DataLoader's question: the share of each global batch this rank reads, or null (read everything). */
export function _data_shard(): DataShard | null {
  return enabled && impl !== null ? impl.data_shard() : null;
}

// Models built while Advanced Parallelization is on wait here until first used; while a loader is
// still filling one in (from_pretrained, from_config), `depth.building` holds them back.
const pending = new WeakSet<object>();
// How deep the calls of _while_building and _unplanned (a tool's own models and optimizers) nest.
const depth = { building: 0, unplanned: 0 };

function within<T>(key: keyof typeof depth, fn: () => T): T {
  depth[key]++;
  try {
    return fn();
  } finally {
    depth[key]--;
  }
}

/** Called by a model as it is constructed: it gets the plan at its first use. */
export function _model_created(model: object): void {
  if (enabled && depth.unplanned === 0) pending.add(model);
}

/**
 * Runs `fn` outside Advanced Parallelization: models built in it get no plan and optimizers built in
 * it reduce nothing across ranks. For a tool's own models inside a planned job (the calibration's
 * timed steps), whose parameters differ from rank to rank.
 */
export function _unplanned<T>(fn: () => T): T {
  return within("unplanned", fn);
}

/** Runs `fn` (a loader filling in a model) without applying plans to models it touches. */
export function _while_building<T>(fn: () => T): T {
  return within("building", fn);
}

/**
 * Called where a model is first used (its parameters handed out, its forward run, its state_dict
 * taken): a model built under Advanced Parallelization gets its plan here, exactly once. Returns
 * whether it did (the plan may have replaced the model's forward).
 */
export function _before_use(model: object): boolean {
  if (depth.building > 0 || !pending.has(model)) return false;
  pending.delete(model);
  if (enabled && impl !== null) impl.apply(model);
  return enabled && impl !== null;
}

/** A loader's question (from_pretrained): may the runtime build this meta-device model sharded? */
export function _load_sharded(model: object, read: (names: string[], like: Tensor) => Tensor): boolean {
  return enabled && impl !== null ? impl.load_sharded(model, read) : false;
}

/** The Optimizer constructor's call: its parameters' gradients are reduced like the plan's. */
export function _optimizer_created(params: readonly Tensor[]): void {
  if (enabled && impl !== null && depth.unplanned === 0) impl.optimizer_created(params);
}

/** Forgets a pending model (a submodule of a model the plan is applied to, or one the executor builds). */
export function _forget_model(model: object): void {
  pending.delete(model);
}
