// Step time of a plan. Compute: GEMM FLOPs at a shape-dependent efficiency, attention FLOPs at the
// attention kernels' efficiency, and memory-bound elementwise work at HBM bandwidth. Communication:
// alpha-beta collectives on the link each group uses. Schedule: 1F1B / interleaved pipeline bubble.
import { layerActivations } from "./activations.js";
import { layerShape, measuredLayerTime } from "./measured_layer.js";
import { collectiveTime, p2pTime } from "./collectives.js";
import {
  dataParallelMessages,
  embeddingTpCalls,
  headTpCalls,
  layerCpMessage,
  layerTpCalls,
  rankTokens,
  type Call,
} from "./communication.js";
import { collectiveLink, groupLink, stageParams, zeroShardDegree } from "./layout.js";
import { simulatePipeline, type PipelineTasks } from "./pipeline_sim.js";
import { chunkLayers } from "./stages.js";
import { activationShape, elementBytes, logitBytes } from "./memory.js";
import { causalAttentionShare, headForwardFlopsPerToken, layerForwardFlopsPerToken, trainingFlopsPerToken } from "./model_profile.js";
import type { Plan, Problem } from "./space.js";
import { stackTraits } from "./stack.js";

/** Seconds of one step, split by where the time goes (they sum to `total`). */
export interface StepTime {
  total: number;
  /** Forward and backward of every micro-batch on the slowest pipeline stage. */
  compute: number;
  recompute: number;
  /** Tensor-parallel all-reduces / all-gathers / reduce-scatters (on the critical path). */
  tpComm: number;
  /** Context-parallel K/V ring passes not hidden behind the attention they feed. */
  cpComm: number;
  /** Pipeline point-to-point sends. */
  ppComm: number;
  /** Pipeline fill and drain. */
  bubble: number;
  /** Data-parallel and ZeRO communication not hidden behind compute. */
  dpComm: number;
  /** Optimizer step, CPU Adam and host-device copies of offloaded states. */
  optimizer: number;
}

export interface Prediction {
  step: StepTime;
  tokensPerS: number;
  /** Executed FLOP/s per GPU, recompute included (Megatron's convention). */
  tflopsPerGpu: number;
  /** Model FLOPs (6N + attention, no recompute) over peak. */
  mfu: number;
  hardwareFlopsPerStep: number;
}

/** Bytes an elementwise kernel chain moves per stored activation byte: written once, read once. */
const ELEMENTWISE_TRAFFIC = 2;
/** Backward costs twice the forward: two GEMMs (input and weight gradients) per forward GEMM. */
const BACKWARD_FACTOR = 2;
/** Adam step on the GPU streams fp32 master, m, v and the bf16 gradient in, and master, m, v, bf16 weight
 *  out; in fp32 weight, m, v and gradient in, weight, m, v out: 28 bytes either way. */
const ADAM_BYTES_PER_PARAM = 28;
/** Adding a bf16 gradient into an fp32 buffer: read 2 + 4 bytes, write 4. */
const FP32_ACCUMULATION_BYTES = 10;

export function gemmEfficiency(problem: Problem, dim: number): number {
  const { maxEfficiency, halfDim } = problem.hardware.gemm;
  return (maxEfficiency * dim) / (dim + halfDim);
}

/**
 * FLOP/s the layers' GEMMs reach at their narrowest dimension `dim`: bf16 (fp32 runs at the same rate
 * here, see docs/planner.md), or FP8 tensor cores at the FP8 peak. FP8 doubles the math per byte moved,
 * so a GEMM must be twice as wide to become compute-bound: the curve's half-efficiency width doubles.
 */
function layerGemmRate(problem: Problem, dim: number): number {
  const { hardware } = problem;
  if (problem.precision !== "fp8") return hardware.peakFlops * gemmEfficiency(problem, dim);
  if (hardware.fp8 === undefined) throw new Error(`fp8 matmuls: ${hardware.name} has no FP8 tensor cores in its profile (H100, H200)`);
  const halfDim = 2 * hardware.gemm.halfDim;
  return hardware.fp8.peakFlops * hardware.fp8.maxEfficiency * (dim / (dim + halfDim));
}

/**
 * Communication hidden behind compute still slows it: NCCL's ring kernels run on the GPU's SMs (up to
 * 16 channels, one SM each, of an H100's 132), so compute beside them runs ~12 % slower.
 */
const OVERLAP_SLOWDOWN = 16 / 132;

/**
 * The one overlap rule for communication that runs beside compute: `comm` issued in `parts` buckets
 * (a layer's worth each), each behind the compute of the `window` it overlaps; what the window cannot
 * cover is exposed, and so is the bucket that has no compute left after it; the hidden rest costs the
 * compute it slows (OVERLAP_SLOWDOWN).
 */
export function exposed(comm: number, window: number, parts: number): number {
  if (comm <= 0) return 0;
  const open = Math.max(comm - window, comm / parts);
  return open + OVERLAP_SLOWDOWN * (comm - open);
}

interface LayerTimes {
  forward: number;
  backward: number;
  recompute: number;
  tp: number;
  /** Exposed context-parallel ring time, forward and backward (and the recomputed forward's). */
  cp: number;
}

/** The share of the s×s scores an attention kernel computes: the causal half fused, all of it unfused. */
function executedAttentionShare(problem: Problem): number {
  return problem.flashAttention ? causalAttentionShare : 1;
}

/**
 * Megatron-LM's asynchronous TP backward under sequence parallelism (stack.ts, tpAsyncBackward), as a
 * change to the eager count of one layer's backward: the two column-parallel layers (QKV, MLP-in)
 * reduce-scatter their input gradients behind their weight-gradient GEMMs instead of on the critical
 * path, and re-gather their sharded inputs (Megatron stores them split) behind their input-gradient
 * GEMMs; each collective behind a GEMM of its own, so no trailing bucket is exposed.
 */
function asyncBackwardTp(problem: Problem, plan: Plan, layerGemm: number): number {
  const { model } = problem;
  const m = elementBytes(problem.precision) * rankTokens(problem, plan) * model.hidden;
  const rs: Call = { kind: "reduce_scatter", bytes: m, ranks: plan.tp, group: "tp" };
  const ag: Call = { kind: "all_gather", bytes: m, ranks: plan.tp, group: "tp" };
  const q = model.heads * model.headDim;
  const columnIn = q + 2 * model.kvHeads * model.headDim + (model.mlp === "gated" ? 2 : 1) * model.ffn;
  const columnShare = columnIn / (columnIn + q + model.ffn);
  // The two GEMMs each collective hides behind: half of the column-parallel layers' backward each.
  const window = 0.5 * BACKWARD_FACTOR * columnShare * layerGemm;
  const reduceScatters = callsTime(problem, [rs, rs]);
  const regathers = callsTime(problem, [ag, ag]);
  // Both are in layerTpCalls' exposed time (the regathers under spRegather, which these stacks have).
  const left = exposed(reduceScatters, window, Number.POSITIVE_INFINITY) + exposed(regathers, window, Number.POSITIVE_INFINITY);
  return left - reduceScatters - regathers;
}

/** `stageLayers`: the most layers a pipeline stage holds (what "full(k)" recompute counts against). */
function layerTimes(problem: Problem, plan: Plan, stageLayers: number): LayerTimes {
  const { model, hardware } = problem;
  const t = plan.tp;
  const asyncBackward = stackTraits(problem.stack).tpAsyncBackward && plan.sequenceParallel && t > 1;
  const tokens = rankTokens(problem, plan);
  // Attention FLOPs per token grow with the whole sequence even when a rank holds 1/cp of its tokens
  // (ring attention balances the causal work over the cp ranks).
  const flops = layerForwardFlopsPerToken(model, problem.seqLen);
  const gemm = (flops.gemm * tokens) / t / layerGemmRate(problem, model.hidden / t);
  // Fused causal attention skips the masked half of the score matrix; never faster than the kernels' efficiency of peak.
  const attention =
    (((flops.attention * tokens) / t) * executedAttentionShare(problem)) / (hardware.peakFlops * hardware.attentionEfficiency);
  // The elementwise ops' traffic: the bf16 tensors they read and write (an FP8 copy saved for
  // backward is the casts' traffic, fp8CastTime).
  const acts = layerActivations(model, { ...activationShape(problem, plan), selective: false, fp8: false });
  const bw = hardware.memoryBandwidthBytesPerS;
  const elementwise = (ELEMENTWISE_TRAFFIC * (acts.replicated + acts.sharded)) / bw;
  const scores = (ELEMENTWISE_TRAFFIC * acts.scores) / bw;
  // Framework time per layer (synchronous dispatch on CPU ranks): a third in forward, two in backward.
  const framework = (hardware.overhead?.perLayerS ?? 0) / (1 + BACKWARD_FACTOR);
  const forward = gemm + attention + elementwise + scores + fp8CastTime(problem, plan, tokens) + framework;
  // The backward's two GEMMs per forward GEMM, at the backward's accumulation (fp8BackwardGemmExtra).
  const backward = BACKWARD_FACTOR * (forward + fp8BackwardGemmExtra(problem) * gemm);
  const recomputedShare = plan.recompute === "full" ? Math.min(1, plan.recomputeLayers / stageLayers) : 0;
  const selective = plan.recompute === "selective" && !problem.flashAttention ? attention + scores : 0;
  // Two all-reduces (or all-gather + reduce-scatter pairs under SP, the same bytes) per layer in
  // forward, two in backward, and two more when the forward is recomputed (communication.ts).
  const tpCalls = (recomputed: boolean): number => {
    const calls = layerTpCalls(problem, plan, recomputed);
    const time = callsTime(problem, calls);
    // Overlapped (a what-if): each collective behind the GEMM it feeds, by the one rule.
    if (problem.tpCommOverlap === true && calls.length > 0)
      return exposed(time, (1 + BACKWARD_FACTOR + (recomputed ? 1 : 0)) * gemm, calls.length);
    return asyncBackward ? time + asyncBackwardTp(problem, plan, gemm) : time;
  };
  const tp = (1 - recomputedShare) * tpCalls(false) + recomputedShare * tpCalls(true);
  // Ring attention: the cp − 1 K/V transfers overlap the attention of the chunks (the one rule, cp parts).
  let cp = 0;
  if (plan.cp > 1) {
    const step = p2pTime(layerCpMessage(problem, plan), groupLink(problem, t, plan.cp));
    const forwardRing = (plan.cp - 1) * step;
    cp = (1 + recomputedShare) * exposed(forwardRing, attention, plan.cp) + exposed(2 * forwardRing, BACKWARD_FACTOR * attention, plan.cp);
  }
  return { forward, backward, recompute: recomputedShare * forward + selective, tp, cp };
}

/**
 * The share of a forward GEMM's time that each backward GEMM adds under fp8: Transformer Engine runs
 * fprop with cuBLAS's fast accumulation and dgrad and wgrad with the split accumulator
 * (use_split_accumulator: module/base.py `_2X_ACC_FPROP = False`, `_2X_ACC_DGRAD = True`,
 * `_2X_ACC_WGRAD = True`, passed by linear.py, layernorm_linear.py and layernorm_mlp.py to every FP8
 * GEMM, v1.8 to v2.4; v2.x's Float8CurrentScaling recipe the same, common/recipe/__init__.py l. 208-210;
 * common/gemm/cublaslt_gemm.cu: `fastAccuMode = use_split_accumulator ? 0 : 1`), which runs at the
 * profile's splitAccumulatorSpeed of the fast rate: 1/speed − 1. 0 in bf16 and fp32.
 */
function fp8BackwardGemmExtra(problem: Problem): number {
  if (problem.precision !== "fp8") return 0;
  return 1 / (problem.hardware.fp8?.splitAccumulatorSpeed ?? 1) - 1;
}

/**
 * FP8 GEMMs cast their bf16 inputs (the QKV, attention-output, MLP-in and MLP-out operands) to FP8 in
 * forward and their output gradients in backward: read 2 bytes, write 1, per element.
 */
function fp8CastTime(problem: Problem, plan: Plan, tokens: number): number {
  if (problem.precision !== "fp8") return 0;
  const { model } = problem;
  const operands = (2 * model.hidden + (model.heads * model.headDim) / plan.tp + model.ffn / plan.tp) * tokens;
  return (3 * operands) / problem.hardware.memoryBandwidthBytesPerS;
}

/**
 * The layer's forward and backward as the profile measured them (hardware.ts, MeasuredLayers: CPU
 * profiles from `tessera plan --calibrate`) where it timed this problem's layer at the plan's TP
 * degree, in place of the count; a recomputed forward at the measured forward's time. At TP > 1 the
 * measurement is the TP executor's sequence-parallel layer, its collectives included: the layer's
 * counted TP collectives are not charged again (a plan without sequence parallelism keeps the count).
 */
function measuredLayerTimes(problem: Problem, plan: Plan, counted: LayerTimes): LayerTimes {
  if (plan.cp > 1 || (plan.tp > 1 && !plan.sequenceParallel)) return counted;
  const shape = layerShape(problem.model, problem.seqLen, problem.precision ?? "bf16-mixed");
  const measured = measuredLayerTime(problem.hardware.layers, shape, plan.tp, rankTokens(problem, plan));
  if (measured === undefined) return counted;
  const recompute = counted.forward > 0 ? (counted.recompute * measured.forward) / counted.forward : 0;
  return { ...counted, ...measured, recompute, tp: 0 };
}

/** Seconds of `calls` back to back; TP groups are neighbouring ranks (stride 1). */
function callsTime(problem: Problem, calls: Array<Call | null>, stride = 1): number {
  let time = 0;
  for (const c of calls) {
    if (c === null) continue;
    const parts = c.parts ?? 1;
    time += parts * collectiveTime(c.kind, c.bytes / parts, c.ranks, collectiveLink(problem, stride, c.ranks));
  }
  return time;
}

/** Forward + backward seconds of the output projection and cross-entropy for one micro-batch. */
function headTime(problem: Problem, plan: Plan): number {
  const { model, hardware } = problem;
  const tokens = rankTokens(problem, plan);
  const dim = Math.min(model.hidden, model.vocab / plan.tp);
  const gemm =
    ((1 + BACKWARD_FACTOR) * headForwardFlopsPerToken(model) * tokens) / plan.tp / (hardware.peakFlops * gemmEfficiency(problem, dim));
  const loss =
    ((1 + BACKWARD_FACTOR) * ELEMENTWISE_TRAFFIC * tokens * model.vocab * logitBytes(problem.precision)) /
    plan.tp /
    hardware.memoryBandwidthBytesPerS;
  return gemm + loss;
}

/** A rank's speed with `busy` ranks computing, relative to all busy: the nearest measured count at or below. */
function sharedSpeed(speed: Array<[number, number]>, busy: number): number {
  let best: [number, number] | undefined;
  for (const point of speed) if (point[0] <= busy && (best === undefined || point[0] > best[0])) best = point;
  return best?.[1] ?? 1;
}

/**
 * Ranks that share a machine's cores (the profile's sharedCores: CPU ranks) are not independent
 * devices: the profile's rates hold with every rank busy, and a rank runs faster while others wait.
 * The pipeline's span (its compute at the all-busy rates, `computeSpan`, plus its sends, `ppComm`)
 * is then the simulated schedule's (pipeline_sim.ts); returns the factor on the compute span that
 * gives it. With one stage every rank is busy throughout: 1. GPUs leave sharedCores out: 1. Modelled
 * for the ranks of one machine (a job spanning machines: 1, each machine's stages then differ).
 */
function sharedCoreScale(
  problem: Problem,
  plan: Plan,
  tasks: () => Omit<PipelineTasks, "speed" | "ranksPerStage">,
  computeSpan: number,
  ppComm: number,
): number {
  const shared = problem.hardware.sharedCores;
  if (shared === undefined || plan.pp === 1 || computeSpan <= 0 || problem.gpus > problem.gpusPerNode) return 1;
  const span = simulatePipeline({ ...tasks(), ranksPerStage: problem.gpus / plan.pp, speed: (busy) => sharedSpeed(shared.speed, busy) });
  return Math.max(0, span - ppComm) / computeSpan;
}

export function predictStep(problem: Problem, plan: Plan): Prediction {
  const { model, hardware } = problem;
  const { pp: p, vpp: v, gradAccum: m, tp, dp } = plan;
  const e = elementBytes(problem.precision);
  const traits = stackTraits(problem.stack);
  const stages = stageParams(model, plan, traits.pipelineSplit);
  const layer = measuredLayerTimes(problem, plan, layerTimes(problem, plan, Math.max(...stages.layers)));
  const head = headTime(problem, plan);
  const headTp = callsTime(problem, headTpCalls(problem, plan));
  const embeddingTp = callsTime(problem, embeddingTpCalls(problem, plan));
  const activationMessage = (e * rankTokens(problem, plan) * model.hidden) / tp; // scatter-gather over TP ranks
  // Each micro-batch sends its activation on and its gradient back at every chunk boundary: 2v transfers.
  const transfers = p > 1 ? 2 * v * p2pTime(activationMessage, groupLink(problem, tp * plan.cp * dp, p)) : 0;
  // An interleaved schedule that overlaps them (stack.ts, interleavedP2pOverlap) hides each behind a
  // chunk's compute, by the one rule: a micro-batch's forward and backward on the busiest stage, 2v parts.
  const stageP2p =
    traits.interleavedP2pOverlap && v > 1
      ? exposed(transfers, Math.max(...stages.layers) * (layer.forward + layer.backward), 2 * v)
      : transfers;
  // One micro-batch's forward and backward on each stage: its layers (stages.ts's split), the
  // embedding's collectives on the first stage, the output layer and loss (and their collectives) on the last.
  const perStage = stages.layers.map((n, s) => ({
    layers: n,
    compute: n * (layer.forward + layer.backward) + (s === p - 1 ? head : 0),
    recompute: n * layer.recompute,
    tp: n * layer.tp + (s === p - 1 ? headTp : 0) + (s === 0 ? embeddingTp : 0),
    cp: n * layer.cp,
  }));
  const stageTime = (t: (typeof perStage)[number]): number => t.compute + t.recompute + t.tp + t.cp + stageP2p;
  const slowest = perStage.reduce((a, b) => (stageTime(b) > stageTime(a) ? b : a));
  // The slowest stage sets the pace; filling and draining costs the other stages' time for one
  // micro-batch, 1/v of it interleaved: (p − 1)/v stage times on even stages, and at most 16 %
  // over the simulated schedule on the uneven splits stages.ts makes (test/parallel/pp_schedule.test.ts).
  const bubble = (perStage.reduce((sum, t) => sum + stageTime(t), 0) - stageTime(slowest)) / v;
  const layers = slowest.layers;
  const params = Math.max(...stages.perStage);
  const forwardWindow = layers * layer.forward;
  const backwardWindow = layers * layer.backward;
  // ZeRO's collectives run over the shard group: the whole dp·cp group, or under hybrid sharding its
  // node-local part (on NVLink), whose replicas then reduce across nodes once per step, during the
  // last micro-batch's backward like a plain DP all-reduce (communication.ts has the messages). Every
  // collective here follows one rule (`exposed`): bucketed per layer behind the compute it overlaps.
  const shardDegree = zeroShardDegree(problem, plan);
  const dpMessages = dataParallelMessages(problem, plan);
  const time = (calls: Array<Call | null>, stride: number): number => callsTime(problem, calls, stride);
  const crossNode = time([dpMessages.replicas], tp * shardDegree);
  // Ranks sharing cores (CPU): Gloo's collectives copy and reduce on the same cores the compute
  // needs, so running beside compute hides none of their time.
  const behind = (comm: number, window: number, parts: number): number =>
    hardware.sharedCores !== undefined ? comm : exposed(comm, window, parts);
  let dpComm = 0;
  if (plan.zero === 3) {
    // Per micro-batch: the weights' all-gather behind the forward; their all-gather again and the
    // gradients' reduce-scatter behind the backward (prefetched a layer ahead).
    const forwardGather = time([dpMessages.gather], tp);
    const backward = time([dpMessages.backwardGather, dpMessages.reduce], tp);
    dpComm =
      m * (behind(forwardGather, forwardWindow, layers) + behind(backward, backwardWindow, layers)) +
      behind(crossNode, backwardWindow, layers);
  } else if (dp * plan.cp > 1) {
    // Gradients are reduced once, behind the last micro-batch's backward; ZeRO-1/2 all-gather the
    // updated weights behind the next step's first forward (each layer's before it runs).
    const reduce = time([dpMessages.reduce], tp) + crossNode;
    dpComm = behind(reduce, backwardWindow, layers) + behind(time([dpMessages.gather], tp), forwardWindow, layers);
  }
  // Ranks sharing cores: replicas add their measured per-step work (measure.ts, replicaOverhead).
  if (dp * plan.cp > 1) dpComm += (p > 1 ? hardware.overhead?.replicaStepS : hardware.overhead?.dataParallelStepS) ?? 0;

  const shard = plan.zero >= 1 ? params / shardDegree : params;
  let optimizer = (shard * ADAM_BYTES_PER_PARAM) / hardware.memoryBandwidthBytesPerS + (hardware.overhead?.perStepS ?? 0);
  // fp32 gradient accumulation (stack.ts): every micro-batch reads the bf16 gradients and the fp32
  // buffer and writes the buffer, over the stage's unsharded parameters.
  if (traits.fp32GradAccumulation) optimizer += (m * FP32_ACCUMULATION_BYTES * params) / hardware.memoryBandwidthBytesPerS;
  if (plan.offload !== "none") {
    // CPU Adam on the shard, gradients down and weights up over PCIe.
    optimizer = shard / hardware.host.adamParamsPerS + (2 * e * shard) / hardware.host.pcieBytesPerS;
  }
  if (plan.offload === "optimizer+params") {
    // Each micro-batch fetches the weight shard for forward and for backward and sends gradients down.
    optimizer += m * exposed((3 * e * shard) / hardware.host.pcieBytesPerS, layers * (layer.forward + layer.backward), layers);
  }

  // Ranks sharing cores (CPU): the pipeline's compute runs faster while stages wait (sharedCoreScale).
  const computeSpan = m * (slowest.compute + slowest.recompute) + bubble;
  const scale = sharedCoreScale(
    problem,
    plan,
    () => {
      const chunks = chunkLayers(model, plan, traits.pipelineSplit);
      const isLast = (c: number): boolean => c === chunks.length - 1;
      // The pipeline executor's own work around each task (measured where ranks share cores).
      const own = hardware.overhead?.pipelineTaskS ?? 0;
      return {
        pp: p,
        vpp: v,
        microBatches: m,
        // The output layer and loss: a third of their time in forward, the rest in backward, as the layers'.
        forward: chunks.map((n, c) => own + n * layer.forward + (isLast(c) ? head / (1 + BACKWARD_FACTOR) : 0)),
        backward: chunks.map(
          (n, c) => own + n * (layer.backward + layer.recompute) + (isLast(c) ? (BACKWARD_FACTOR * head) / (1 + BACKWARD_FACTOR) : 0),
        ),
        p2p: stageP2p / (2 * v),
      };
    },
    computeSpan,
    m * stageP2p,
  );
  const step: StepTime = {
    compute: scale * m * slowest.compute,
    recompute: scale * m * slowest.recompute,
    tpComm: m * slowest.tp,
    cpComm: m * slowest.cp,
    ppComm: m * stageP2p,
    bubble: scale * bubble,
    dpComm,
    optimizer,
    total: 0,
  };
  step.total = step.compute + step.recompute + step.tpComm + step.cpComm + step.ppComm + step.bubble + step.dpComm + step.optimizer;

  const tokens = problem.globalBatch * problem.seqLen;
  const perLayer = layerForwardFlopsPerToken(model, problem.seqLen);
  const executedLayer = perLayer.gemm + executedAttentionShare(problem) * perLayer.attention;
  const recomputedLayers = plan.recompute === "full" ? stages.layers.reduce((sum, n) => sum + Math.min(n, plan.recomputeLayers), 0) : 0;
  const recomputeFlops =
    recomputedLayers * executedLayer + (plan.recompute === "selective" && !problem.flashAttention ? model.layers * perLayer.attention : 0);
  const modelFlops = trainingFlopsPerToken(model, problem.seqLen) * tokens;
  const hardwareFlopsPerStep =
    tokens * ((1 + BACKWARD_FACTOR) * (model.layers * executedLayer + headForwardFlopsPerToken(model)) + recomputeFlops);
  return {
    step,
    tokensPerS: tokens / step.total,
    tflopsPerGpu: hardwareFlopsPerStep / step.total / problem.gpus / 1e12,
    mfu: modelFlops / step.total / problem.gpus / hardware.peakFlops,
    hardwareFlopsPerStep,
  };
}
