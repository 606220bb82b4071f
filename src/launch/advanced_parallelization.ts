// What the one line does (registered into torch.moreh when the package entry `tessera` loads):
// make this process a job over every local device (self_launch.ts), plan for the model at hand
// (the planner), and apply what the runtime has — today the data-parallel executor: the
// DataLoader shards the data per rank and Optimizer.step() averages gradients first.
import * as cuda from "../torch/cuda.js";
import * as dist from "../torch/distributed/index.js";
import { _register_advanced_parallelization, type PlanForOptions } from "../torch/moreh.js";
import { averageGradients, dataParallelWorld } from "../parallel/executors/data_parallel.js";
import { hardwarePreset, makeProblem, plan, profileFromConfig } from "../parallel/planner/index.js";
import { ensureWorkers } from "./self_launch.js";

/** The "applied: ..." half of the log line, from the process group actually running. */
function applied(): string {
  const world = dataParallelWorld();
  if (world === null) return "single device";
  return `data parallel over ${world.world_size} ranks (${dist.get_backend()}) — gradients averaged before each optimizer step, data sharded by the DataLoader`;
}

function planFor(config: Record<string, unknown>, { seq_len, global_batch, hardware }: PlanForOptions): string {
  const gpus = cuda.is_available() ? cuda.device_count() : 0;
  // The job's ranks (one per GPU, or TESSERA_NPROC on CPU) are the devices the plan is for.
  const devices = dist.is_initialized() ? dist.get_world_size() : Math.max(1, gpus);
  const hw = hardwarePreset(hardware ?? (gpus > 0 ? "h100" : "cpu"));
  const problem = makeProblem(profileFromConfig(config), devices, { hardware: hw, seqLen: seq_len, globalBatch: Math.max(global_batch, devices) });
  const best = plan(problem).best;
  const where = `${devices} × ${hw.name}`;
  const planned =
    best === undefined
      ? `no plan fits ${where}`
      : `dp ${best.plan.dp}, tp ${best.plan.tp}, pp ${best.plan.pp}, zero ${best.plan.zero}, recompute ${best.plan.recompute}, micro-batch ${best.plan.microBatch} on ${where}`;
  return `Advanced Parallelization: planned ${planned}; applied: ${applied()}`;
}

_register_advanced_parallelization({
  enable(options) {
    const info = ensureWorkers(options);
    if (info.rank !== 0) return;
    const what = info.world_size === 1 ? "one process, one device" : `data parallel over ${info.world_size} ranks (${info.backend})`;
    console.log(`[tessera] advanced parallelization: ${what}`);
  },
  plan_for: planFor,
  data_shard: dataParallelWorld,
  before_step: averageGradients,
});
