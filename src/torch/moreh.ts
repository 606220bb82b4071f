// torch.moreh: the seed's one line, `torch.moreh.option.enable_advanced_parallelization()`.
// The torch layer only keeps the switch and two runtime hooks that torch itself calls (the
// DataLoader asks which shard of the data this rank reads; Optimizer.step() lets the executor
// average gradients first). What enabling does — launching ranks, planning, executing — lives in
// higher layers, which register it here (src/launch/advanced_parallelization.ts, loaded by the
// package entry `tessera`), so that arrows only point down.
import type { Backend } from "./distributed/process_group.js";
import type { Tensor } from "./tensor.js";

export interface AdvancedParallelizationOptions {
  /** Ranks wanted; default: the CUDA device count, else TESSERA_NPROC, else 1. */
  nprocs?: number;
  /** "gloo" or "nccl"; default nccl on CUDA, gloo on CPU. */
  backend?: Backend;
}

export interface PlanForOptions {
  seq_len: number;
  global_batch: number;
  /** Planner hardware preset name for the devices (default: "h100" on CUDA, "cpu" otherwise). */
  hardware?: string;
}

/** Which strided share of a map-style dataset's order this rank reads. */
export interface DataShard {
  rank: number;
  world_size: number;
  /** Rank 0's order of a pass, so that the shares stay disjoint even if the ranks' generators drifted apart. */
  same_order(indices: number[]): number[];
}

/** What a higher layer registers: the one line's effect, the planner, and the executor's hooks. */
export interface AdvancedParallelizationImpl {
  enable(options: AdvancedParallelizationOptions): void;
  plan_for(config: Record<string, unknown>, options: PlanForOptions): string;
  /** The shard a DataLoader without its own sampler reads, or null when the data is not split. */
  data_shard(): DataShard | null;
  /** Runs at the start of every Optimizer.step() (after its closure) with the optimizer's parameters. */
  before_step(params: readonly Tensor[]): void;
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
  /** Also makes this one process a job over every local device (see src/launch/self_launch.ts). */
  enable_advanced_parallelization(options: AdvancedParallelizationOptions = {}): void {
    const runtime = registered();
    enabled = true;
    runtime.enable(options);
  },
  disable_advanced_parallelization(): void {
    enabled = false;
  },
  is_enabled_advanced_parallelization(): boolean {
    return enabled;
  },
};

/**
 * Plans Advanced Parallelization for a model (its HF config) on the devices at hand and returns the
 * log line saying what was planned and what was applied; null when it was not enabled.
 */
export function plan_for(config: Record<string, unknown>, options: PlanForOptions): string | null {
  return enabled ? registered().plan_for(config, options) : null;
}

/** The DataLoader's hook: the shard this rank reads, or null (read everything). */
export function _data_shard(): DataShard | null {
  return enabled && impl !== null ? impl.data_shard() : null;
}

/** Optimizer.step()'s hook: lets the executor reduce gradients before the update. */
export function _before_optimizer_step(params: readonly Tensor[]): void {
  if (enabled && impl !== null) impl.before_step(params);
}
