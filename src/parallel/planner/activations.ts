// Activation bytes one layer stores for its backward pass, per micro-batch (Korthikanti et al. 2022,
// "Reducing Activation Recomputation in Large Transformer Models", §4), generalised to GQA, gated MLPs,
// MLP widths other than 4h, models without dropout, and fused attention that keeps no s×s scores.
// For a GPT layer with dropout and unfused attention it gives the paper's formulas exactly:
//   sbh(34 + 5as/h) with no parallelism, sbh(10 + 24/t + 5as/(ht)) with TP,
//   (sbh/t)(34 + 5as/h) with TP+SP, 34sbh/t with TP+SP and selective recompute.
import type { ModelProfile } from "./model_profile.js";

export interface ActivationShape {
  seq: number;
  microBatch: number;
  tp: number;
  sequenceParallel: boolean;
  /** Fused attention: the s×s softmax and dropout tensors are never stored. */
  flashAttention: boolean;
  /** Selective recompute drops the s×s attention tensors and recomputes them in backward. */
  selective: boolean;
  /** Bytes of a stored activation element: 2 (bf16, the default) or 4 (fp32 training). */
  elementBytes?: number;
  /**
   * FP8 GEMMs (the fp8 what-if, Transformer Engine's recipe): the GEMMs' inputs are kept in FP8 (1
   * byte) for backward, and the gated MLP's activation is one fused op that keeps only its input
   * (gate and up) and its FP8 output.
   */
  fp8?: boolean;
  /**
   * A gated MLP's activation as one fused op that keeps only its input (gate and up) and its output
   * (the down projection's input), as Megatron-Core's bias_swiglu does: 3 elements per MLP width
   * instead of the eager ops' 4 (stack.ts, "fused" activations).
   */
  fusedGatedActivation?: boolean;
}

export interface LayerActivations {
  /** Bytes outside the TP region: norm inputs, attention and MLP inputs, dropout masks (÷t under SP). */
  replicated: number;
  /** Bytes inside the TP region (÷t): Q, K, V, the attention output, the MLP's hidden tensors. */
  sharded: number;
  /** The a·s²·b attention tensors (softmax output; with dropout its 1-byte mask and output). */
  scores: number;
  total: number;
}

/** Activations of `elementBytes` (default 2, bf16) per element; dropout masks 1 byte at any precision. */
export function layerActivations(m: ModelProfile, x: ActivationShape): LayerActivations {
  const { seq: s, microBatch: b, tp: t } = x;
  const e = x.elementBytes ?? 2;
  const sbh = s * b * m.hidden;
  const q = m.heads * m.headDim;
  const kv = m.kvHeads * m.headDim;
  // A GEMM's saved input: bf16 (e), or FP8 under the fp8 what-if.
  const g = x.fp8 === true ? 1 : e;
  // Two norm inputs, the QKV input (norm output), the MLP input (norm output); two dropout masks.
  const replicatedFull = (2 * e + 2 * g) * sbh + (m.dropout ? 2 * sbh : 0);
  const kvShard = Math.max(kv / t, m.headDim); // k/v heads are replicated when t exceeds them
  // Q, K, V and the attention output (the output projection's input); a plain MLP keeps its
  // activation's input and output (the down projection's input), a gated one gate, up, act(gate) and
  // their product (eager ops), or fused (the fp8 what-if, a fused stack) gate, up and the op's output.
  const fused = x.fp8 === true || x.fusedGatedActivation === true;
  const mlpPerElement = m.mlp === "gated" ? (fused ? 2 * e + g : 4 * e) : e + g;
  const sharded = s * b * (e * (q / t + 2 * kvShard) + (g * q) / t) + (mlpPerElement * s * b * m.ffn) / t;
  const scores = x.flashAttention || x.selective ? 0 : ((m.dropout ? 2 * e + 1 : e) * m.heads * s * s * b) / t;
  const replicated = x.sequenceParallel ? replicatedFull / t : replicatedFull;
  return { replicated, sharded, scores, total: replicated + sharded + scores };
}

/** Full recompute keeps only each layer's input: 2sbh bytes in bf16 (÷t under sequence parallel). */
export function checkpointBytes(
  m: ModelProfile,
  x: Pick<ActivationShape, "seq" | "microBatch" | "tp" | "sequenceParallel" | "elementBytes">,
): number {
  const bytes = (x.elementBytes ?? 2) * x.seq * x.microBatch * m.hidden;
  return x.sequenceParallel ? bytes / x.tp : bytes;
}
