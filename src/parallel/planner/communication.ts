// The collectives a plan issues, with their message sizes (the full, unsharded bytes of the gathered
// or reduced tensor), as the runtime's executors issue them (src/parallel/executors; counted per
// step by the tensor-parallel tests): cost.ts turns them into time. Scalars (the global loss, the
// gradient norm) are left out: latency only.
//
// Tensor parallel, per micro-batch (M = b·s·h activation bytes):
//   each layer: 4 all-reduces of M (attention and MLP: the input's gradient, the row-parallel output),
//     or under sequence parallelism 4 all-gathers and 4 reduce-scatters of M, and 2 all-gathers more
//     where the column-parallel linears keep only the sequence shard of their input and gather it
//     again in backward (tessera's and Megatron's; stack.ts, spRegather); the forward's again when
//     the layer is recomputed. k/v heads fewer than the ranks: the head's weights all-gathered
//     in forward and reduce-scattered in backward over the ranks sharing it. Under SP the norm
//     weights' (and row-parallel biases') gradients are all-reduced.
//   embedding: an all-reduce of M (vocab-parallel lookup; the sequence is split after it under SP).
//   output layer: the input's gradient all-reduced (SP: all-gathered forward, again in backward
//     under spRegather, reduce-scattered backward, plus the sequence split's all-gather in backward); the vocab-parallel loss
//     all-reduces 3 fp32 numbers per predicted token (5 with Baichuan2's z-loss).
// Data parallel, per step (P parameters per rank; gradients reduced in the dtype the stack reduces
// them in — fp32 on tessera's executors, the fp32 masters under mixed precision; bf16 on Megatron-Core
// as NeMo runs it; stack.ts, gradientReduce — weights gathered as they are stored):
//   ZeRO-0: all-reduce of P. ZeRO-1: all-reduce of P (the full reduced gradient is kept; a reduce-scatter
//   on stacks whose distributed optimizer takes only its shard's sum, stack.ts zero1GradientCollective),
//   all-gather of P before the next forward. ZeRO-2: reduce-scatter and all-gather of P. ZeRO-3, per micro-batch:
//   all-gather of P in forward, of the layers' P again in backward (the embedding and head stay
//   gathered from forward to backward), reduce-scatter of P. Hybrid sharding adds the all-reduce
//   over node replicas of what is left after the shard group's reduction.
import type { Collective } from "./collectives.js";
import { DDP_BUCKET_BYTES } from "../executors/buckets.js";
import { rankLayerParams, stageParams, zeroShardDegree } from "./layout.js";
import { elementBytes, gradientReduceBytes, storedWeightBytes } from "./memory.js";
import { finalNormParams, layerReplicatedParams } from "./model_profile.js";
import type { Plan, Problem } from "./space.js";
import { stackTraits } from "./stack.js";

/** One collective: its kind, its message bytes, the ranks of its group. */
export interface Call {
  kind: Collective;
  bytes: number;
  ranks: number;
  /** The group: the TP group, the ranks sharing a k/v head, or a data-parallel group. */
  group: "tp" | "kv" | "dp";
  /** Issued as this many equal messages (one per flat unit or bucket), each paying the latency; 1 when absent. */
  parts?: number;
}

/** The vocab-parallel loss reduces fp32 per-token values. */
const LOSS_BYTES = 4;

/** Tokens of one micro-batch on one rank: its sequences, split over the context-parallel ranks. */
export function rankTokens(problem: Problem, plan: Plan): number {
  return (problem.seqLen * plan.microBatch) / plan.cp;
}

function activationMessage(problem: Problem, plan: Plan): number {
  return elementBytes(problem.precision) * rankTokens(problem, plan) * problem.model.hidden;
}

/** Tensor-parallel collectives of one layer for one micro-batch; `recomputed` repeats the forward's. */
export function layerTpCalls(problem: Problem, plan: Plan, recomputed: boolean): Call[] {
  const t = plan.tp;
  if (t === 1) return [];
  const { model } = problem;
  const e = elementBytes(problem.precision);
  const m = activationMessage(problem, plan);
  const tp = (kind: Collective, bytes: number): Call => ({ kind, bytes, ranks: t, group: "tp" });
  const forward = plan.sequenceParallel
    ? [tp("all_gather", m), tp("reduce_scatter", m), tp("all_gather", m), tp("reduce_scatter", m)]
    : [tp("all_reduce", m), tp("all_reduce", m)];
  // Under SP each column-parallel region (attention, MLP) may gather its input again for the weight
  // gradients (stack.ts, spRegather).
  const regather = plan.sequenceParallel && stackTraits(problem.stack).spRegather ? [tp("all_gather", m)] : [];
  const backward = plan.sequenceParallel
    ? [...regather, tp("reduce_scatter", m), tp("all_gather", m), ...regather, tp("reduce_scatter", m), tp("all_gather", m)]
    : [tp("all_reduce", m), tp("all_reduce", m)];
  const calls = [...forward, ...backward];
  if (recomputed) calls.push(...forward);
  if (t > model.kvHeads) {
    const ranks = t / model.kvHeads;
    const bias = model.linearBias || model.qkvBias ? 1 : 0;
    const head = 2 * model.headDim * (model.hidden + bias) * e;
    calls.push({ kind: "all_gather", bytes: head, ranks, group: "kv" }, { kind: "reduce_scatter", bytes: head, ranks, group: "kv" });
    if (recomputed) calls.push({ kind: "all_gather", bytes: head, ranks, group: "kv" });
  }
  if (plan.sequenceParallel) calls.push(tp("all_reduce", layerReplicatedParams(model) * e));
  return calls;
}

/** Tensor-parallel collectives of the input embedding for one micro-batch (the first stage). */
export function embeddingTpCalls(problem: Problem, plan: Plan): Call[] {
  if (plan.tp === 1) return [];
  const m = activationMessage(problem, plan);
  const calls: Call[] = [{ kind: "all_reduce", bytes: m, ranks: plan.tp, group: "tp" }];
  if (plan.sequenceParallel) calls.push({ kind: "all_gather", bytes: m, ranks: plan.tp, group: "tp" });
  return calls;
}

/** Tensor-parallel collectives of the final norm, output layer and loss for one micro-batch (the last stage). */
export function headTpCalls(problem: Problem, plan: Plan): Call[] {
  const t = plan.tp;
  if (t === 1) return [];
  const m = activationMessage(problem, plan);
  const tp = (kind: Collective, bytes: number): Call => ({ kind, bytes, ranks: t, group: "tp" });
  // The output layer's regather (stack.ts, spRegather) hides behind its input-gradient GEMM where the
  // backward is asynchronous (tpAsyncBackward): counted where it is exposed.
  const traits = stackTraits(problem.stack);
  const regather = traits.spRegather && !traits.tpAsyncBackward ? [tp("all_gather", m)] : [];
  const calls = plan.sequenceParallel
    ? [
        tp("all_gather", m),
        ...regather,
        tp("reduce_scatter", m),
        tp("all_reduce", finalNormParams(problem.model) * elementBytes(problem.precision)),
      ]
    : [tp("all_reduce", m)];
  const perToken = (LOSS_BYTES * (problem.seqLen - 1) * plan.microBatch) / plan.cp;
  for (let i = 0; i < (problem.model.zLoss === true ? 5 : 3); i++) calls.push(tp("all_reduce", perToken));
  return calls;
}

/**
 * Context parallelism (ring attention) for one layer and micro-batch: each of the cp − 1 ring steps
 * passes a rank's K and V chunk on in forward, and K, V and their gradients in backward (and the
 * forward's again when the layer is recomputed). Bytes of one step's message: 2·(s/cp)·b·kv·d per TP
 * rank (k/v heads split over tp, at least one head).
 */
export function layerCpMessage(problem: Problem, plan: Plan): number {
  const { model } = problem;
  const kvShard = Math.max((model.kvHeads * model.headDim) / plan.tp, model.headDim);
  return 2 * elementBytes(problem.precision) * rankTokens(problem, plan) * kvShard;
}

/** The data-parallel (ZeRO) messages of one step, in the shape cost.ts schedules them. */
export interface DataParallelMessages {
  /** The gradient reduction over the shard group (or the whole DP group at ZeRO-0). */
  reduce: Call | null;
  /** Hybrid sharding: the reduction over node replicas. */
  replicas: Call | null;
  /** ZeRO-1/2: the weights' all-gather before the next forward; ZeRO-3: the forward's, per micro-batch. */
  gather: Call | null;
  /** ZeRO-3: the backward's all-gather, per micro-batch. */
  backwardGather: Call | null;
}

export function dataParallelMessages(problem: Problem, plan: Plan): DataParallelMessages {
  const none: DataParallelMessages = { reduce: null, replicas: null, gather: null, backwardGather: null };
  const group = plan.dp * plan.cp; // the ranks holding the same weights
  if (group === 1) return none;
  const stages = stageParams(problem.model, plan, stackTraits(problem.stack).pipelineSplit);
  // The larger end stage; ZeRO all-gathers the weights as they are stored (FP8 where the stack keeps them so).
  const s = stages.first >= stages.last ? 0 : plan.pp - 1;
  const params = stages.perStage[s];
  const grads = gradientReduceBytes(problem) * params;
  const weights = storedWeightBytes(problem, params, stages.layers[s] * rankLayerParams(problem.model, plan.tp));
  const d = zeroShardDegree(problem, plan);
  const replicas = group / d;
  // tessera's executors (stack.ts, dataParallelMessages): one message per flat unit — the stage's
  // layers and the root — where there are units (apply.ts needsShards' rule), else DDP's buckets.
  const perUnit = stackTraits(problem.stack).dataParallelMessages === "per-unit";
  const units = perUnit ? stages.layers[s] + 1 : 1;
  const flatUnits = plan.zero > 0 || plan.pp > 1 || plan.gradAccum > 1 || problem.precision !== "fp32";
  const dp = (kind: Collective, bytes: number, ranks: number, parts = units): Call | null =>
    ranks > 1 ? { kind, bytes, ranks, group: "dp", parts } : null;
  if (plan.zero === 0)
    return { ...none, reduce: dp("all_reduce", grads, group, flatUnits || !perUnit ? units : Math.ceil(grads / DDP_BUCKET_BYTES)) };
  // A ZeRO-1 that all-reduces keeps, and reduces over the replicas, the whole gradient; otherwise the shard's.
  const wholeGradient = plan.zero === 1 && stackTraits(problem.stack).zero1GradientCollective === "all_reduce";
  const replicaReduce = plan.hybridShard ? dp("all_reduce", wholeGradient ? grads : grads / d, replicas) : null;
  const reduce = dp(wholeGradient ? "all_reduce" : "reduce_scatter", grads, d);
  const gather = dp("all_gather", weights, d);
  if (plan.zero < 3) return { reduce, replicas: replicaReduce, gather, backwardGather: null };
  const layers = (problem.model.layers / plan.pp) * rankLayerParams(problem.model, plan.tp);
  // The root unit (embedding, output layer) stays gathered from forward to backward: the layers' units.
  const backwardGather = dp("all_gather", storedWeightBytes(problem, layers, layers), d, perUnit ? stages.layers[s] : 1);
  return { reduce, replicas: replicaReduce, gather, backwardGather };
}

export type CommunicationVolume = Record<"tp" | "dp", Record<Collective, number>>;

/** Message bytes of one step's collectives on one rank (of the last pipeline stage), by group and kind. */
export function communicationVolume(problem: Problem, plan: Plan): CommunicationVolume {
  const volume: CommunicationVolume = {
    tp: { all_reduce: 0, all_gather: 0, reduce_scatter: 0 },
    dp: { all_reduce: 0, all_gather: 0, reduce_scatter: 0 },
  };
  const add = (calls: Array<Call | null>, times: number): void => {
    for (const c of calls) if (c !== null) volume[c.group === "dp" ? "dp" : "tp"][c.kind] += times * c.bytes;
  };
  const m = plan.gradAccum;
  const layers = problem.model.layers / plan.pp;
  const recomputed = plan.recompute === "full" ? plan.recomputeLayers : 0;
  add(layerTpCalls(problem, plan, true), m * recomputed);
  add(layerTpCalls(problem, plan, false), m * (layers - recomputed));
  add(headTpCalls(problem, plan), m);
  if (plan.pp === 1) add(embeddingTpCalls(problem, plan), m);
  const d = dataParallelMessages(problem, plan);
  if (plan.zero === 3) {
    add([d.gather, d.backwardGather, d.reduce], m);
    add([d.replicas], 1);
  } else {
    add([d.reduce, d.replicas, d.gather], 1);
  }
  return volume;
}
