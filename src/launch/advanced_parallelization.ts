// What the one line does (registered into torch.moreh when the package entry `tessera` loads):
// make this process one rank of a job over every local device (self_launch.ts) bound to its own
// device, and, when the script builds its model, plan for it (the planner, with the user's fixed
// choices) and apply the plan through the one seam (src/parallel/apply.ts), logging one line with
// every plan key and the predicted memory per rank. A plan the runtime cannot apply, or a model
// that fits nowhere, is an error before training; the run never applies less than it printed.
import { existsSync } from "node:fs";
import * as cuda from "../torch/cuda.js";
import * as dist from "../torch/distributed/index.js";
import { tensor } from "../torch/creation.js";
import { int64 } from "../torch/dtype.js";
import {
  _forget_model,
  _register_advanced_parallelization,
  type AdvancedParallelizationOptions,
  type DataShard,
  type PlanChoices,
} from "../torch/moreh.js";
import { Module } from "../torch/nn/modules/module.js";
import type { Tensor } from "../torch/tensor.js";
import type { ParamSource } from "../parallel/executors/sharded.js";
import { applyPlan, type AppliedModel, type AppliedPlan } from "../parallel/apply.js";
import { ReplicatedParams } from "../parallel/executors/data_parallel.js";
import { dataParallelMesh, ranksPerNode } from "../parallel/mesh.js";
import {
  fixedFromPlanJson,
  hardwarePreset,
  loadHardwareProfile,
  makeProblem,
  noFitMessage,
  plan,
  planToJson,
  profileFromConfig,
  type Evaluation,
  type Fixed,
  type HardwareProfile,
  type Problem,
} from "../parallel/planner/index.js";
import { chunkLayers } from "../parallel/planner/stages.js";
import { cachedLocalProfile } from "./calibrate.js";
import { ensureWorkers } from "./self_launch.js";
import { parseJson } from "../torch/serialization/json.js";

/**
 * What the runtime holds unless the user fixes it: micro-batches and pipeline stages run in the
 * pipeline executor (executors/pipeline.ts), so a plan without a fixed pp > 1 or grad_accum > 1 is
 * one stage and one micro-batch per step (among plans of equal predicted time the search would
 * otherwise pick gradient accumulation); pipeline stages run tensor parallelism without sequence
 * parallelism (their activations travel whole).
 */
function runtimeDefaults(fixed: Fixed): Fixed {
  if ((fixed.pp ?? 1) > 1) return { sequenceParallel: false };
  return (fixed.gradAccum ?? 1) > 1 ? {} : { pp: 1, vpp: 1, gradAccum: 1 };
}

interface State {
  options: AdvancedParallelizationOptions;
  fixed: Fixed;
  applied: AppliedPlan | null;
  models: WeakMap<Module, PlannedModel>;
  replicated: ReplicatedParams;
}

/** A model the plan was applied to, with the planner's evaluation of that plan (null for plain modules). */
export interface PlannedModel extends AppliedModel {
  evaluation: Evaluation | null;
}

let state: State | null = null;

function userChoices(options: AdvancedParallelizationOptions): Fixed {
  if (options.plan !== undefined) return fixedFromPlanJson(options.plan, "enable_advanced_parallelization({ plan })");
  const env = process.env.TESSERA_PLAN;
  if (env === undefined || env === "") return {};
  let parsed: unknown;
  try {
    parsed = parseJson(env);
  } catch (e) {
    throw new Error(`TESSERA_PLAN: not JSON (${(e as Error).message})`);
  }
  return fixedFromPlanJson(parsed, "TESSERA_PLAN");
}

/** Refuses choices that no executor runs yet, naming each. */
function checkExecutable(fixed: Fixed, where: string): void {
  if ((fixed.pp ?? 1) > 1 && fixed.sequenceParallel === true) {
    throw new Error(
      `${where}: the runtime cannot apply sequence_parallel with pp ${fixed.pp} yet (pipeline stages exchange whole activations); fix sequence_parallel false`,
    );
  }
}

/** Refuses a chosen plan the executors cannot run as planned. */
function checkPlan(applied: AppliedPlan): void {
  if (applied.pp > 1 && applied.sequence_parallel)
    throw new Error(
      `Advanced Parallelization: the plan has sequence_parallel with pp ${applied.pp}; the runtime cannot apply it inside pipeline stages yet (fix sequence_parallel false)`,
    );
  // The micro-batches' gradients are held in full until the step: ZeRO-2/3's gradient shards would not be.
  if (applied.grad_accum > 1 && applied.zero > 1)
    throw new Error(
      `Advanced Parallelization: the plan has grad_accum ${applied.grad_accum} with zero ${applied.zero}; micro-batches run with zero 0 or 1 (fix zero)`,
    );
}

/** The named preset or profile file; unnamed, this machine's `tessera plan --calibrate` profile when cached, else a preset. */
function hardwareFor(name: string | undefined): HardwareProfile {
  if (name === undefined) {
    const measured = cachedLocalProfile();
    if (measured !== undefined) return measured;
  }
  const gpus = cuda.is_available() ? cuda.device_count() : 0;
  const wanted = name ?? (gpus > 0 ? "h100-sxm-80gb" : "cpu");
  return existsSync(wanted) ? loadHardwareProfile(wanted) : hardwarePreset(wanted);
}

function configOf(model: Module): Record<string, unknown> | null {
  const config = (model as { config?: { to_dict?: () => Record<string, unknown> } }).config;
  return config !== undefined && typeof config.to_dict === "function" ? config.to_dict() : null;
}

function floatDtypeName(model: Module): string {
  for (const p of model.parameters()) if (p.dtype.is_floating_point) return p.dtype.name;
  return "float32";
}

function gib(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (bytes >= 1024 && i < units.length - 1) {
    bytes /= 1024;
    i++;
  }
  return `${bytes.toFixed(i === 0 ? 0 : 2)} ${units[i]}`;
}

function describe(applied: AppliedPlan): string {
  return Object.entries(applied)
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(", ");
}

function memoryText(e: Evaluation | null): string {
  if (e === null) return "memory not predicted (the model has no HF config to profile)";
  const m = e.memory;
  return `predicted memory per rank ${gib(m.total)} (weights ${gib(m.weights)}, gradients ${gib(m.gradients)}, optimizer ${gib(m.optimizer)}, activations ${gib(m.activations)}, buffers ${gib(m.buffers)})`;
}

/** Plans for `model` on this job's ranks: the planner's best plan within the user's and the runtime's choices. */
function choosePlan(
  model: Module,
  s: State,
  world: number,
): { applied: AppliedPlan; evaluation: Evaluation | null; problem: Problem | null } {
  const fixed: Fixed = { ...runtimeDefaults(s.fixed), ...s.fixed };
  const product = (fixed.dp ?? 1) * (fixed.tp ?? 1) * (fixed.pp ?? 1);
  if (fixed.dp !== undefined && (world % product !== 0 || (fixed.tp !== undefined && fixed.pp !== undefined && product !== world))) {
    throw new Error(
      `Advanced Parallelization: the plan fixes dp ${fixed.dp}${fixed.tp === undefined ? "" : ` and tp ${fixed.tp}`}${fixed.pp === undefined ? "" : ` and pp ${fixed.pp}`}, but the job has ${world} ranks`,
    );
  }
  const config = configOf(model);
  if (config === null) {
    if ((fixed.tp ?? 1) > 1)
      throw new Error(
        `Advanced Parallelization: tp ${fixed.tp} needs a model with a tensor-parallel plan (Llama, Mistral, Qwen2, Baichuan2, GPT-2); ${model.constructor.name} has none`,
      );
    if ((fixed.pp ?? 1) > 1 || (fixed.gradAccum ?? 1) > 1)
      throw new Error(
        `Advanced Parallelization: pp and grad_accum need a model with an HF config (its layers are split by the planner); ${model.constructor.name} has none`,
      );
    // A plain nn module: nothing to profile, so the plan is the user's choices over data parallelism.
    const zero = fixed.zero ?? 0;
    const applied: AppliedPlan = {
      dp: world,
      tp: 1,
      pp: 1,
      vpp: 1,
      micro_batch: fixed.microBatch ?? 1,
      grad_accum: 1,
      zero,
      recompute: fixed.recompute ?? "none",
      recompute_layers: fixed.recomputeLayers ?? 0,
      sequence_parallel: false,
      offload: fixed.offload ?? "none",
      hybrid_shard: fixed.hybridShard ?? false,
    };
    return { applied, evaluation: null, problem: null };
  }
  const o = s.options;
  const maxPos = typeof config.max_position_embeddings === "number" ? config.max_position_embeddings : 2048;
  const hardware = hardwareFor(o.hardware);
  const problem = makeProblem(profileFromConfig(config), world, {
    hardware,
    gpusPerNode: ranksPerNode(world),
    seqLen: o.seq_len ?? Math.min(maxPos, 2048),
    globalBatch: o.global_batch ?? (fixed.microBatch ?? 1) * world,
    precision: floatDtypeName(model) === "float32" ? "fp32" : "bf16-mixed",
  });
  const result = plan(problem, fixed);
  if (result.best === undefined) throw new Error(`Advanced Parallelization: ${noFitMessage(problem, result)}`);
  const applied = planToJson(result.best.plan);
  checkPlan(applied);
  return { applied, evaluation: result.best, problem };
}

function rank0Order(indices: number[]): number[] {
  const order = tensor(indices, { dtype: int64 });
  dist.broadcast(order, 0);
  return order.tolist() as number[];
}

function world(): number {
  return dist.is_initialized() ? dist.get_world_size() : 1;
}

/** Applies a chosen plan to `model` and logs it (every rank, in the same order). */
function applyTo(
  model: Module,
  s: State,
  { applied, evaluation, problem }: { applied: AppliedPlan; evaluation: Evaluation | null; problem: Problem | null },
  source?: ParamSource,
): void {
  for (const [, m] of model.named_modules()) if (m !== model) _forget_model(m);
  const n = world();
  const mesh = dataParallelMesh(applied.hybrid_shard, applied.zero > 0, applied.tp, applied.pp);
  // The runtime cuts the layers where the planner priced them.
  const split = problem === null ? undefined : chunkLayers(problem.model, applied);
  const result = applyPlan(model, applied, mesh, source, split);
  s.replicated.useGroup(mesh.dpGroup, mesh.dp);
  s.models.set(model, { ...result, evaluation });
  if (result.sharded !== null) s.replicated.manage(result.sharded.allUnits().map((u) => u.shard));
  s.applied = applied;
  if (n === 1 || dist.get_rank() === 0)
    console.log(`[tessera] Advanced Parallelization plan: ${describe(applied)}; ${memoryText(evaluation)}`);
}

_register_advanced_parallelization({
  enable(options) {
    const fixed = userChoices(options);
    checkExecutable(fixed, options.plan !== undefined ? "enable_advanced_parallelization({ plan })" : "TESSERA_PLAN");
    const info = ensureWorkers(options);
    if (cuda.is_available()) cuda.set_device(Number(process.env.LOCAL_RANK ?? 0) % Math.max(1, cuda.device_count()));
    state = { options, fixed, applied: null, models: new WeakMap(), replicated: new ReplicatedParams() };
    if (info.rank === 0)
      console.log(
        `[tessera] advanced parallelization: ${info.world_size} rank${info.world_size > 1 ? "s" : ""} (${info.backend}); the plan is made when the model is built`,
      );
  },

  apply(model) {
    if (state === null || !(model instanceof Module)) return;
    applyTo(model, state, choosePlan(model, state, world()));
  },

  load_sharded(model, read) {
    if (state === null || !(model instanceof Module)) return false;
    const chosen = choosePlan(model, state, world());
    // Only a plan that shards the weights themselves saves memory while loading.
    if (chosen.applied.zero !== 3 || chosen.applied.tp > 1 || chosen.applied.pp > 1 || chosen.applied.grad_accum > 1) return false;
    _forget_model(model);
    applyTo(model, state, chosen, read);
    return true;
  },

  optimizer_created(params: readonly Tensor[]) {
    state?.replicated.attach(params);
  },

  data_shard(): DataShard | null {
    const n = world();
    if (n < 2) return null;
    // The TP ranks and the pipeline stages of one data-parallel rank read the same share; read as
    // the loader iterates, so that a loader built before the model follows the plan applied to it
    // (TP innermost in the mesh, PP outermost).
    const tp = (): number => state?.applied?.tp ?? state?.fixed.tp ?? 1;
    const dp = (): number => n / (tp() * (state?.applied?.pp ?? state?.fixed.pp ?? 1));
    return {
      get rank() {
        return Math.floor(dist.get_rank() / tp()) % dp();
      },
      get world_size() {
        return dp();
      },
      same_order: rank0Order,
    };
  },

  applied_plan(): Required<PlanChoices> | null {
    return state?.applied ?? null;
  },
});

/** The sharded state of a planned model (for tests and tools measuring memory), or null. */
export function _applied_model(model: Module): PlannedModel | null {
  return state?.models.get(model) ?? null;
}
