// The one seam where a plan meets a model: applied once, from outside the model's code, as
// torchtitan's parallelize_* functions are. It syncs the model from rank 0, shards it (ZeRO-1/2/3,
// hybrid sharding, mixed precision, offload) or leaves its parameters to plain data parallelism,
// splits it into pipeline stages, checkpoints the layers the plan recomputes, and makes the output
// loss the global batch's.
import "../torch/_generated/tensor_methods.js";
import { no_grad } from "../torch/autograd/grad_mode.js";
import * as dist from "../torch/distributed/index.js";
import { scope } from "../torch/memory.js";
import { isKwargs } from "../torch/_invoke.js";
import type { PlanChoices } from "../torch/moreh.js";
import type { Module, StateDict } from "../torch/nn/modules/module.js";
import { _checkpoint_module } from "../torch/utils/checkpoint.js";
import type { Tensor } from "../torch/tensor.js";
import { _mark_sharded } from "../torch/distributed/_sharding.js";
import { meshGroup, subgroups, type DataParallelMesh } from "./mesh.js";
import { TensorParallelModel } from "./executors/tensor_parallel.js";
import { tensorParallelPlanFor } from "./tp_plans/index.js";
import { globalizeLoss } from "./executors/global_loss.js";
import { repeatedLayers } from "./executors/layers.js";
import { ShardedModel, type ParamSource } from "./executors/sharded.js";
import { PipelinedModel } from "./executors/pipeline.js";

export type AppliedPlan = Required<PlanChoices>;

/** What applying a plan left behind: the sharded model, when the plan shards. */
export interface AppliedModel {
  sharded: ShardedModel | null;
  /** The tensor-parallel layout, when the plan has tp > 1. */
  tensorParallel: TensorParallelModel | null;
  /** This rank's pipeline stage, when the plan has pp > 1. */
  pipeline: PipelinedModel | null;
  /** The parameters the optimizer will get from model.parameters(). */
  parameters: Tensor[];
}

/** What applying a plan left behind, by model (checkpoints read the TP slices and pipeline stage a rank holds). */
const appliedModels = new WeakMap<Module, AppliedModel>();

/** What applyPlan left behind for `model`, or null when no plan was applied to it. */
export function appliedModelOf(model: Module): AppliedModel | null {
  return appliedModels.get(model) ?? null;
}

function is16bit(model: Module): boolean {
  for (const p of model.parameters()) if (p.dtype.is_floating_point) return p.dtype.name === "bfloat16" || p.dtype.name === "float16";
  return false;
}

/** Micro-batches and stages run in the pipeline executor. */
function pipelined(plan: AppliedPlan): boolean {
  return plan.pp > 1 || plan.grad_accum > 1;
}

/** Does this plan need flat units (sharding, fp32 masters for 16-bit weights, offload, or a pipeline's held gradients)? */
export function needsShards(plan: AppliedPlan, model: Module): boolean {
  return plan.zero > 0 || plan.offload !== "none" || pipelined(plan) || is16bit(model);
}

// Which modules a plan's recompute checkpoints: the first `recompute_layers` layers under "full"
// (Megatron's block method), each layer's attention under "selective".
function recomputed(plan: AppliedPlan, layers: Module[]): Module[] {
  if (plan.recompute === "full") return layers.slice(0, plan.recompute_layers);
  if (plan.recompute !== "selective") return [];
  return layers.flatMap((layer) => [...layer.named_children()].filter(([name]) => /attn|attention/i.test(name)).map(([, m]) => m));
}

/** Tensor parallelism over the mesh's TP group with the model family's plan. */
function tensorParallel(model: Module, plan: AppliedPlan, mesh: DataParallelMesh): TensorParallelModel {
  const family = tensorParallelPlanFor(model);
  // k/v heads fewer than the ranks: each run of tp/kv neighbouring ranks shares one head.
  const replicas = plan.tp % family.kvHeads === 0 ? plan.tp / family.kvHeads : 1;
  const kvReplicas = replicas > 1 ? subgroups(mesh.device!, "tp", replicas) : null;
  return new TensorParallelModel(model, family, { group: mesh.tpGroup!, kvReplicas, sequenceParallel: plan.sequence_parallel });
}

/** Pipeline stages over the mesh's PP group (or micro-batches on one stage): `split` gives the layers of each chunk (planner/stages.ts). */
function pipelineParallel(
  model: Module,
  layers: Module[],
  plan: AppliedPlan,
  mesh: DataParallelMesh,
  split: number[] | undefined,
  source: ParamSource | undefined,
  tp: TensorParallelModel | null,
): PipelinedModel {
  if (split === undefined) throw new Error("pipeline parallel: the plan's layer split is missing (a model without an HF config has none)");
  if (source !== undefined)
    throw new Error("pipeline parallel: weights read per rank while loading are not supported with pp or grad_accum > 1");
  return new PipelinedModel(model, layers, {
    pp: plan.pp,
    vpp: plan.vpp,
    microBatches: plan.grad_accum,
    chunks: split,
    group: mesh.ppGroup,
    dp: mesh.dp,
    dpGroup: mesh.dpGroup,
    // Tensor-parallel slices are saved whole (the TP layer gathers them first).
    fullShape: tp === null ? undefined : (key) => tp.specs.get(key)?.full,
  });
}

/**
 * Applies `plan` to `model` over `mesh` (every rank calls it, in the same order). With pp > 1,
 * `split` holds the decoder layers of each pipeline chunk.
 */
export function applyPlan(model: Module, plan: AppliedPlan, mesh: DataParallelMesh, source?: ParamSource, split?: number[]): AppliedModel {
  // Weights read from the same files on every rank (a source) are in sync already.
  if (mesh.world > 1 && source === undefined) {
    // In a scope: the detached aliases must not keep the weights alive once sharding frees them.
    scope(() =>
      no_grad(() => {
        for (const t of [...model.parameters(), ...model.buffers()]) dist.broadcast(t.detach(), 0);
      }),
    );
  }
  // Before ZeRO, whose units then flatten each rank's slices; every rank cuts them from the synced weights.
  const tp = plan.tp > 1 ? tensorParallel(model, plan, mesh) : null;
  const pipeline = pipelined(plan) ? pipelineParallel(model, repeatedLayers(model), plan, mesh, split, source, tp) : null;
  // This rank's layers: those of its pipeline stage.
  const layers = pipeline?.localLayers ?? repeatedLayers(model);
  for (const m of recomputed(plan, layers)) _checkpoint_module(m);
  let sharded: ShardedModel | null = null;
  if (needsShards(plan, model)) {
    sharded = new ShardedModel(
      model,
      layers,
      {
        shardGroup: mesh.shardGroup,
        shardSize: mesh.shardSize,
        shardRank: mesh.shardRank,
        replicateGroup: mesh.replicateGroup,
        replicateSize: mesh.replicateSize,
        zero: plan.zero,
        offload: plan.offload !== "none",
        apart: tp === null ? undefined : (m, n) => tp.isSharded(m, n),
      },
      source,
    );
    const s = sharded;
    Object.defineProperty(model, "state_dict", {
      configurable: true,
      writable: true,
      value: ({ prefix = "" }: { prefix?: string; keep_vars?: boolean } = {}): StateDict => s.stateDict(prefix),
    });
  }
  if (tp !== null) {
    // A unit of TP slices is one shard of tensors split over the shard group and the TP group (for
    // norms); under a pipeline over the stages too (below).
    if (sharded !== null && pipeline === null) {
      const group = mesh.shardSize > 1 ? meshGroup(mesh.device!, ["dp_shard", "tp"]) : mesh.tpGroup;
      for (const u of sharded.allUnits())
        if (u.entries.some((e) => e.owners.some(([m, n]) => tp.isSharded(m, n)))) _mark_sharded(u.shard, group);
    }
    const local = model.state_dict.bind(model);
    Object.defineProperty(model, "state_dict", {
      configurable: true,
      writable: true,
      value: (options: { prefix?: string; keep_vars?: boolean } = {}): StateDict => tp.fullStateDict(local(options), options.prefix ?? ""),
    });
  }
  if (pipeline !== null) {
    // A stage's units are its share of the model: whole-model quantities (the gradient norm) sum
    // over the pipeline, and over the shard group when ZeRO splits them.
    const units = sharded!.allUnits();
    pipeline.useUnits(units);
    if (plan.pp > 1) {
      const dims = ["pp", ...(mesh.shardSize > 1 ? ["dp_shard"] : [])];
      // Both groups are made on every rank, in this order, whatever units the rank holds.
      const whole = meshGroup(mesh.device!, dims);
      const sliced = tp === null ? null : meshGroup(mesh.device!, [...dims, "tp"]);
      for (const u of units)
        _mark_sharded(u.shard, sliced !== null && u.entries.some((e) => e.owners.some(([m, n]) => tp!.isSharded(m, n))) ? sliced : whole);
    }
    const local = model.state_dict.bind(model);
    Object.defineProperty(model, "state_dict", {
      configurable: true,
      writable: true,
      value: (options: { prefix?: string; keep_vars?: boolean } = {}): StateDict =>
        pipeline.gatherStateDict(local(options), options.prefix ?? ""),
    });
  }
  // The pipeline makes its loss global itself: its forward runs the model once per micro-batch.
  if (mesh.dp > 1 && pipeline === null) {
    model.register_forward_hook((_m, args, output) => {
      const last = args[args.length - 1];
      globalizeLoss(output, isKwargs(last) ? last : undefined, mesh.dp, mesh.dpGroup);
      return undefined;
    });
  }
  const applied = { sharded, tensorParallel: tp, pipeline, parameters: [...model.parameters()] };
  appliedModels.set(model, applied);
  return applied;
}
