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
 * Bytes of a stage's weights on one rank as its stack stores them, before ZeRO-3 shards them: `params`
 * of which `layerParams` are the decoder layers'. bf16 (fp32) everywhere, except under fp8 on a stack
 * whose FP8 GEMMs keep their primary weights in FP8 (stack.ts, fp8PrimaryWeights): 1 byte per layer
 * parameter (the norms' few counted with them), the embedding and output layer still bf16.
 */
export function storedWeightBytes(problem: Pick<Problem, "precision" | "stack">, params: number, layerParams: number): number {
  const e = elementBytes(problem.precision);
  if (problem.precision !== "fp8" || !stackTraits(problem.stack).fp8PrimaryWeights) return params * e;
  return (params - layerParams) * e + layerParams;
}

/**
 * Bytes per gradient element in the data-parallel reduction: the dtype the run states (a published
 * row's configuration), else its stack's (stack.ts, gradientReduce); fp32 precision reduces 4 either way.
 */
export function gradientReduceBytes(problem: Pick<Problem, "precision" | "stack" | "gradientReduce">): number {
  const dtype = problem.gradientReduce ?? stackTraits(problem.stack).gradientReduce;
  return dtype === "fp32" ? 4 : elementBytes(problem.precision);
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
    const layerParams = stages.layers[s] * rankLayerParams(model, plan.tp);
    const memory = stageMemory(problem, plan, stages.perStage[s], layerParams, inFlight + acts.working, s === plan.pp - 1 ? logits : 0);
    if (peak === null || memory.total > peak.total) peak = memory;
  }
  return peak!;
}

function stageMemory(
  problem: Problem,
  plan: Plan,
  params: number,
  layerParams: number,
  activations: number,
  logits: number,
): MemoryBreakdown {
  const shardDegree = zeroShardDegree(problem, plan);
  const states = modelStateBytesPerParam(plan.zero, shardDegree, problem.precision);
  const offloadOptimizer = plan.offload !== "none";
  const offloadParams = plan.offload === "optimizer+params";
  const e = elementBytes(problem.precision);
  // ZeRO-3 gathers a layer's full (TP-shard) weights and prefetches the next; their unsharded
  // gradients wait for the reduce-scatter: 2 layers × (weight + gradient) per parameter.
  const gatheredLayer = rankLayerParams(problem.model, plan.tp);
  const gathered = plan.zero === 3 ? 2 * (storedWeightBytes(problem, gatheredLayer, gatheredLayer) + gatheredLayer * e) : 0;
  const traits = stackTraits(problem.stack);
  // states.weights / e: the share of them a rank keeps (1/d at ZeRO-3).
  const weights = offloadParams ? 0 : (storedWeightBytes(problem, params, layerParams) * states.weights) / e;
  // Megatron's gradient buffer holds the reduction's dtype (stack.ts, gradientBufferInReduceDtype);
  // DeepSpeed's BF16_Optimizer adds an unsharded fp32 accumulation buffer (stack.ts).
  const gradientBytes = traits.gradientBufferInReduceDtype ? (states.gradients * gradientReduceBytes(problem)) / e : states.gradients;
  const gradients = offloadParams ? 0 : params * (gradientBytes + (traits.fp32GradAccumulation ? 4 : 0));
  const optimizer = offloadOptimizer ? 0 : params * states.optimizer;
  // Offloaded states live in host RAM; ZeRO shards them like the GPU's (over the node under hybrid).
  const host = offloadOptimizer ? (params * hostBytesPerParam(offloadParams, problem.precision)) / (plan.zero >= 1 ? shardDegree : 1) : 0;
  // Transformer Engine keeps, per parameter of the decoder layers the rank computes with (all of its
  // layers, or under ZeRO-3 the two gathered ones), the transpose Hopper's FP8 GEMMs need for backward
  // and, for bf16 weights, their cached FP8 copy (stack.ts). The embedding and the output layer are
  // not FP8 GEMMs: nothing.
  const computedLayerParams = plan.zero === 3 ? 2 * gatheredLayer : layerParams;
  const fp8Copies = traits.fp8PrimaryWeights ? 1 : 2;
  const fp8Weights = problem.precision === "fp8" ? fp8Copies * computedLayerParams : 0;
  const buffers = gathered + logits + fp8Weights;
  const fragmentation = traits.fragmentationMargin ? FRAGMENTATION_MARGIN * (activations + buffers) : 0;
  const reserved = problem.hardware.reservedBytes;
  const total = weights + gradients + optimizer + activations + buffers + fragmentation + reserved;
  return { weights, gradients, optimizer, activations, buffers, fragmentation, reserved, total, host };
}

export function fits(problem: Problem, memory: MemoryBreakdown): boolean {
  return memory.total <= problem.hardware.memoryBytes && memory.host <= problem.hardware.host.memoryBytesPerDevice;
}
