// Peak memory per GPU of a plan: model states by ZeRO stage and offload, activations of the
// micro-batches a pipeline stage holds in flight, transient buffers, and a fragmentation margin.
import { checkpointBytes, layerActivations, type ActivationShape } from "./activations.js";
import { rankLayerParams, stageParams, zeroShardDegree } from "./layout.js";
import type { Plan, Precision, Problem, ZeroStage } from "./space.js";

/**
 * PyTorch's caching allocator fragments memory that is allocated and freed every step (activations,
 * gathered weights, logits); we reserve 10 % on top of those. Model states are allocated once and are
 * counted exactly.
 */
export const FRAGMENTATION_MARGIN = 0.1;

/** Bytes of a weight, gradient or activation element: bf16 under mixed precision, else fp32. */
export function elementBytes(precision: Precision = "bf16-mixed"): number {
  return precision === "fp32" ? 4 : 2;
}

/** Bytes per logit element on the last stage: the logits, the fp32 softmax kept for backward, the grad
 *  (8 in bf16, 12 in fp32). */
export function logitBytes(precision: Precision = "bf16-mixed"): number {
  return 2 * elementBytes(precision) + 4;
}

/**
 * Model-state bytes per parameter, sharded over `shardDegree` ranks by ZeRO stage (weights at 3,
 * gradients at ≥ 2, optimizer at ≥ 1). Mixed-precision Adam (ZeRO paper, §3): bf16 weights 2, bf16
 * gradients 2, fp32 master + m + v 12. Plain fp32 Adam: weights 4, gradients 4, m + v 8 (no master).
 */
export function modelStateBytesPerParam(
  zero: ZeroStage, shardDegree: number, precision: Precision = "bf16-mixed",
): { weights: number; gradients: number; optimizer: number } {
  const e = elementBytes(precision);
  const optimizer = precision === "fp32" ? 8 : 12;
  return {
    weights: zero >= 3 ? e / shardDegree : e,
    gradients: zero >= 2 ? e / shardDegree : e,
    optimizer: zero >= 1 ? optimizer / shardDegree : optimizer,
  };
}

/**
 * Host bytes per parameter of CPU-offloaded states. CPU Adam keeps fp32 weights, m, v and fp32
 * gradients (16) at either precision; offloading the parameters too adds the bf16 copy the GPU
 * fetches under mixed precision, and nothing in fp32 (the GPU fetches the weights CPU Adam updates).
 */
function hostBytesPerParam(offloadParams: boolean, precision: Precision = "bf16-mixed"): number {
  return 16 + (offloadParams && precision !== "fp32" ? 2 : 0);
}

export interface MemoryBreakdown {
  weights: number;
  gradients: number;
  optimizer: number;
  activations: number;
  buffers: number;
  fragmentation: number;
  reserved: number;
  total: number;
  /** Host RAM this GPU's share of offloaded states takes. */
  host: number;
}

export function activationShape(problem: Problem, plan: Plan): ActivationShape {
  return {
    seq: problem.seqLen, microBatch: plan.microBatch, tp: plan.tp, sequenceParallel: plan.sequenceParallel,
    flashAttention: problem.flashAttention, selective: plan.recompute === "selective", elementBytes: elementBytes(problem.precision),
  };
}

/**
 * Micro-batches whose activations the first pipeline stage holds at its peak: p under 1F1B,
 * p·(1 + (p−1)/(p·v)) under interleaving (Narayanan et al. 2021, §2.2.2), never more than the
 * accumulation steps.
 */
export function inFlightMicroBatches(plan: Pick<Plan, "pp" | "vpp" | "gradAccum">): number {
  const { pp: p, vpp: v } = plan;
  return Math.min(v === 1 ? p : p + (p - 1) / v, plan.gradAccum);
}

/** Activation bytes of one micro-batch over a stage's layers, with `recomputed` of them checkpointed. */
export function stageActivationBytes(problem: Problem, plan: Plan): { perMicroBatch: number; working: number } {
  const { model } = problem;
  const shape = activationShape(problem, plan);
  const layer = layerActivations(model, shape).total;
  const layersPerStage = model.layers / plan.pp;
  const recomputed = plan.recompute === "full" ? plan.recomputeLayers : 0;
  const perMicroBatch = recomputed * checkpointBytes(model, shape) + (layersPerStage - recomputed) * layer;
  // A fully recomputed layer rebuilds its whole working set during backward (selective recompute too).
  const working = recomputed > 0 ? layerActivations(model, { ...shape, selective: false }).total : 0;
  return { perMicroBatch, working };
}

export function memoryPerGpu(problem: Problem, plan: Plan): MemoryBreakdown {
  const { model } = problem;
  const stages = stageParams(model, plan);
  const acts = stageActivationBytes(problem, plan);
  const logits = (problem.seqLen * plan.microBatch * model.vocab * logitBytes(problem.precision)) / plan.tp;
  const first = stageMemory(problem, plan, stages.first, acts.perMicroBatch * inFlightMicroBatches(plan) + acts.working, plan.pp === 1 ? logits : 0);
  if (plan.pp === 1) return first;
  const last = stageMemory(problem, plan, stages.last, acts.perMicroBatch + acts.working, logits);
  return last.total > first.total ? last : first;
}

function stageMemory(problem: Problem, plan: Plan, params: number, activations: number, logits: number): MemoryBreakdown {
  const shardDegree = zeroShardDegree(problem, plan);
  const states = modelStateBytesPerParam(plan.zero, shardDegree, problem.precision);
  const offloadOptimizer = plan.offload !== "none";
  const offloadParams = plan.offload === "optimizer+params";
  // ZeRO-3 gathers a layer's full (TP-shard) weights and prefetches the next; their unsharded
  // gradients wait for the reduce-scatter: 2 layers × (weight + gradient) elements per parameter.
  const gathered = plan.zero === 3 ? 2 * rankLayerParams(problem.model, plan.tp) * 2 * elementBytes(problem.precision) : 0;
  const weights = offloadParams ? 0 : params * states.weights;
  const gradients = offloadParams ? 0 : params * states.gradients;
  const optimizer = offloadOptimizer ? 0 : params * states.optimizer;
  // Offloaded states live in host RAM; ZeRO shards them like the GPU's (over the node under hybrid).
  const host = offloadOptimizer ? (params * hostBytesPerParam(offloadParams, problem.precision)) / (plan.zero >= 1 ? shardDegree : 1) : 0;
  const buffers = gathered + logits;
  const fragmentation = FRAGMENTATION_MARGIN * (activations + buffers);
  const reserved = problem.hardware.reservedBytes;
  const total = weights + gradients + optimizer + activations + buffers + fragmentation + reserved;
  return { weights, gradients, optimizer, activations, buffers, fragmentation, reserved, total, host };
}

export function fits(problem: Problem, memory: MemoryBreakdown): boolean {
  return memory.total <= problem.hardware.memoryBytes && memory.host <= problem.hardware.host.memoryBytesPerDevice;
}
