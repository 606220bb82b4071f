// Peak memory per GPU of a plan: model states by ZeRO stage and offload, activations of the
// micro-batches a pipeline stage holds in flight, transient buffers, and a fragmentation margin.
import { checkpointBytes, layerActivations, type ActivationShape } from "./activations.js";
import { rankLayerParams, stageParams, zeroShardDegree } from "./layout.js";
import type { Plan, Precision, Problem, ZeroStage } from "./space.js";
import { stackTraits } from "./stack.js";
import { chunkLayers, inFlightLayers, inFlightMicroBatches } from "./stages.js";

/**
 * PyTorch's caching allocator fragments memory that is allocated and freed every step (activations,
 * gathered weights, logits); we reserve 10 % on top of those. Model states are allocated once and are
 * counted exactly.
 */
export const FRAGMENTATION_MARGIN = 0.1;

/** Bytes of a weight, gradient or activation element: bf16 under mixed precision (FP8 GEMMs too: their
 *  inputs and outputs stay bf16), else fp32. */
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
  zero: ZeroStage,
  shardDegree: number,
  precision: Precision = "bf16-mixed",
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
    seq: problem.seqLen / plan.cp,
    microBatch: plan.microBatch,
    tp: plan.tp,
    sequenceParallel: plan.sequenceParallel,
    flashAttention: problem.flashAttention,
    selective: plan.recompute === "selective",
    elementBytes: elementBytes(problem.precision),
    fp8: problem.precision === "fp8",
    fusedGatedActivation: stackTraits(problem.stack).activations === "fused",
  };
}

export { inFlightMicroBatches };

/** Activation bytes of one micro-batch over a stage's `layers`, with up to `recompute_layers` of them checkpointed. */
export function stageActivationBytes(problem: Problem, plan: Plan, layers: number): { perMicroBatch: number; working: number } {
  const { model } = problem;
  const shape = activationShape(problem, plan);
  const layer = layerActivations(model, shape).total;
  const recomputed = plan.recompute === "full" ? Math.min(plan.recomputeLayers, layers) : 0;
  const perMicroBatch = recomputed * checkpointBytes(model, shape) + (layers - recomputed) * layer;
  // A fully recomputed layer rebuilds its whole working set during backward (selective recompute too).
  const working = recomputed > 0 ? layerActivations(model, { ...shape, selective: false }).total : 0;
  return { perMicroBatch, working };
}

/** The peak over the pipeline stages: each holds its own layers' activations for the micro-batches it has in flight. */
export function memoryPerGpu(problem: Problem, plan: Plan): MemoryBreakdown {
  const { model } = problem;
  const split = stackTraits(problem.stack).pipelineSplit;
  const stages = stageParams(model, plan, split);
  const chunks = chunkLayers(model, plan, split);
  const logits = (problem.seqLen * plan.microBatch * model.vocab * logitBytes(problem.precision)) / plan.tp / plan.cp;
  let peak: MemoryBreakdown | null = null;
  for (let s = 0; s < plan.pp; s++) {
    const acts = stageActivationBytes(problem, plan, stages.layers[s]);
    const inFlight = acts.perMicroBatch * (inFlightLayers(chunks, plan, s) / stages.layers[s]);
    const memory = stageMemory(problem, plan, stages.perStage[s], inFlight + acts.working, s === plan.pp - 1 ? logits : 0);
    if (peak === null || memory.total > peak.total) peak = memory;
  }
  return peak!;
}

function stageMemory(problem: Problem, plan: Plan, params: number, activations: number, logits: number): MemoryBreakdown {
  const shardDegree = zeroShardDegree(problem, plan);
  const states = modelStateBytesPerParam(plan.zero, shardDegree, problem.precision);
  const offloadOptimizer = plan.offload !== "none";
  const offloadParams = plan.offload === "optimizer+params";
  // ZeRO-3 gathers a layer's full (TP-shard) weights and prefetches the next; their unsharded
  // gradients wait for the reduce-scatter: 2 layers × (weight + gradient) elements per parameter.
  const gathered = plan.zero === 3 ? 2 * rankLayerParams(problem.model, plan.tp) * 2 * elementBytes(problem.precision) : 0;
  const traits = stackTraits(problem.stack);
  const weights = offloadParams ? 0 : params * states.weights;
  // DeepSpeed's BF16_Optimizer adds an unsharded fp32 accumulation buffer (stack.ts).
  const gradients = offloadParams ? 0 : params * (states.gradients + (traits.fp32GradAccumulation ? 4 : 0));
  const optimizer = offloadOptimizer ? 0 : params * states.optimizer;
  // Offloaded states live in host RAM; ZeRO shards them like the GPU's (over the node under hybrid).
  const host = offloadOptimizer ? (params * hostBytesPerParam(offloadParams, problem.precision)) / (plan.zero >= 1 ? shardDegree : 1) : 0;
  // FP8 GEMMs keep an FP8 copy of the weights they multiply and its transpose (2 bytes per parameter
  // of the layers the rank computes with: all of them, or under ZeRO-3 the two gathered layers).
  const fp8Weights = problem.precision === "fp8" ? 2 * (plan.zero === 3 ? 2 * rankLayerParams(problem.model, plan.tp) : params) : 0;
  const buffers = gathered + logits + fp8Weights;
  const fragmentation = traits.fragmentationMargin ? FRAGMENTATION_MARGIN * (activations + buffers) : 0;
  const reserved = problem.hardware.reservedBytes;
  const total = weights + gradients + optimizer + activations + buffers + fragmentation + reserved;
  return { weights, gradients, optimizer, activations, buffers, fragmentation, reserved, total, host };
}

export function fits(problem: Problem, memory: MemoryBreakdown): boolean {
  return memory.total <= problem.hardware.memoryBytes && memory.host <= problem.hardware.host.memoryBytesPerDevice;
}
