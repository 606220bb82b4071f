// Peak memory per GPU of a plan: model states by ZeRO stage and offload, activations of the
// micro-batches a pipeline stage holds in flight, transient buffers, and a fragmentation margin.
import { checkpointBytes, layerActivations, type ActivationShape } from "./activations.js";
import { rankLayerParams, stageParams } from "./layout.js";
import type { Plan, Problem, ZeroStage } from "./space.js";

/**
 * PyTorch's caching allocator fragments memory that is allocated and freed every step (activations,
 * gathered weights, logits); we reserve 10 % on top of those. Model states are allocated once and are
 * counted exactly.
 */
export const FRAGMENTATION_MARGIN = 0.1;

/** Bytes per logit element on the last stage: bf16 logits, the fp32 softmax kept for backward, bf16 grad. */
export const LOGIT_BYTES = 8;

/** Mixed-precision Adam (ZeRO paper, §3): bf16 weights 2, bf16 gradients 2, fp32 master + m + v 12. */
export function modelStateBytesPerParam(zero: ZeroStage, dp: number): { weights: number; gradients: number; optimizer: number } {
  return {
    weights: zero >= 3 ? 2 / dp : 2,
    gradients: zero >= 2 ? 2 / dp : 2,
    optimizer: zero >= 1 ? 12 / dp : 12,
  };
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
    flashAttention: problem.flashAttention, selective: plan.recompute === "selective",
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
  const logits = (problem.seqLen * plan.microBatch * model.vocab * LOGIT_BYTES) / plan.tp;
  const first = stageMemory(problem, plan, stages.first, acts.perMicroBatch * inFlightMicroBatches(plan) + acts.working, plan.pp === 1 ? logits : 0);
  if (plan.pp === 1) return first;
  const last = stageMemory(problem, plan, stages.last, acts.perMicroBatch + acts.working, logits);
  return last.total > first.total ? last : first;
}

function stageMemory(problem: Problem, plan: Plan, params: number, activations: number, logits: number): MemoryBreakdown {
  const states = modelStateBytesPerParam(plan.zero, plan.dp);
  const offloadOptimizer = plan.offload !== "none";
  const offloadParams = plan.offload === "optimizer+params";
  // ZeRO-3 gathers a layer's full (TP-shard) weights and prefetches the next; their unsharded
  // gradients wait for the reduce-scatter: 2 layers × (2 + 2) bytes per parameter.
  const gathered = plan.zero === 3 ? 2 * rankLayerParams(problem.model, plan.tp) * 4 : 0;
  const weights = offloadParams ? 0 : params * states.weights;
  const gradients = offloadParams ? 0 : params * states.gradients;
  const optimizer = offloadOptimizer ? 0 : params * states.optimizer;
  // Offloaded states live in host RAM: fp32 master, m, v and fp32 gradients for CPU Adam (16 bytes),
  // plus the bf16 weights when they are offloaded too; ZeRO shards them over the DP group.
  const host = offloadOptimizer ? (params * (16 + (offloadParams ? 2 : 0))) / (plan.zero >= 1 ? plan.dp : 1) : 0;
  const buffers = gathered + logits;
  const fragmentation = FRAGMENTATION_MARGIN * (activations + buffers);
  const reserved = problem.hardware.reservedBytes;
  const total = weights + gradients + optimizer + activations + buffers + fragmentation + reserved;
  return { weights, gradients, optimizer, activations, buffers, fragmentation, reserved, total, host };
}

export function fits(problem: Problem, memory: MemoryBreakdown): boolean {
  return memory.total <= problem.hardware.memoryBytes && memory.host <= problem.hardware.host.memoryBytesPerDevice;
}
