// torch.moreh.option.enable_advanced_parallelization(): the seed's one line. Until the executors
// exist, the plan is made for the devices at hand and only what the runtime has is applied (one
// device), and the log says so plainly. The planner reads a model profile from the HF config, so
// planning waits until the training script knows its model (`plan_for`).
import { hardwarePreset, makeProblem, plan, profileFromConfig, type HardwareProfile } from "../parallel/planner/index.js";
import * as cuda from "./cuda.js";
import { ensureWorkers, type EnsureWorkersOptions } from "../launch/self_launch.js";

let enabled = false;

export const option = {
  /** Also makes this one process a job over every local device (see src/launch/self_launch.ts). */
  enable_advanced_parallelization(options: EnsureWorkersOptions = {}): void {
    enabled = true;
    const info = ensureWorkers(options);
    if (info.rank === 0) console.log(`[tessera] advanced parallelization: data parallel over ${info.world_size} rank${info.world_size === 1 ? "" : "s"} (${info.backend})`);
  },
  disable_advanced_parallelization(): void {
    enabled = false;
  },
  is_enabled_advanced_parallelization(): boolean {
    return enabled;
  },
};

export interface PlanForOptions {
  seq_len: number;
  global_batch: number;
  /** Planner hardware preset for the devices (default: "h100" on CUDA, "cpu" otherwise). */
  hardware?: HardwareProfile;
}

/**
 * Plans Advanced Parallelization for a model (its HF config) on the devices at hand and returns the
 * log line saying what was planned and what was applied; null when it was not enabled.
 */
export function plan_for(config: Record<string, unknown>, { seq_len, global_batch, hardware }: PlanForOptions): string | null {
  if (!enabled) return null;
  const gpus = cuda.is_available() ? cuda.device_count() : 0;
  const devices = Math.max(1, gpus);
  const hw = hardware ?? hardwarePreset(gpus > 0 ? "h100" : "cpu");
  const problem = makeProblem(profileFromConfig(config), devices, { hardware: hw, seqLen: seq_len, globalBatch: Math.max(global_batch, devices) });
  const best = plan(problem).best;
  const where = `${devices} × ${hw.name}`;
  const planned =
    best === undefined
      ? `no plan fits ${where}`
      : `dp ${best.plan.dp}, tp ${best.plan.tp}, pp ${best.plan.pp}, zero ${best.plan.zero}, recompute ${best.plan.recompute}, micro-batch ${best.plan.microBatch} on ${where}`;
  return `Advanced Parallelization: planned ${planned}; applied: single device (no distributed runtime)`;
}
