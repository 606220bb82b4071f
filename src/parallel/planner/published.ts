// Validation against published training results the planner was not fitted to
// (reference/published_results.json, docs/planner-validation.md): each row's layout evaluated by the
// cost and memory models, and the free search run on the same problem.
import { hardwarePreset, withNodeNetwork } from "./hardware.js";
import { modelPreset } from "./model_presets.js";
import { layerParams, profileFromConfig, type ModelProfile } from "./model_profile.js";
import { evaluate, search, type Evaluation } from "./search.js";
import type { Plan, Precision, Problem, Recompute, ZeroStage } from "./space.js";
import { STACKS, type GradientReduce, type Stack } from "./stack.js";

/** How a source turned its throughput into FLOPs, so that tokens/s can be recovered from it. */
export type FlopsConvention = "megatron-model" | "megatron-hardware" | "6n-12lhs";

export interface PublishedRow {
  id: string;
  source: string;
  /** nvidia (NeMo / Megatron-Core), megatron (Megatron-LM, Megatron-DeepSpeed), meta, fsdp (PyTorch FSDP stacks). */
  stack: "nvidia" | "megatron" | "meta" | "fsdp";
  gpu: string;
  precision: Precision;
  /** A key of `models` or a model preset name. */
  model: string;
  gpus: number;
  seq: number;
  global_batch: number;
  micro_batch: number;
  tp: number;
  pp: number;
  cp: number;
  vpp: number;
  zero: ZeroStage;
  recompute: Recompute;
  sequence_parallel?: boolean;
  flash_attention?: boolean;
  /** Megatron-Core's TP communication overlap (userbuffers), on in NeMo's H100 recipes. */
  tp_comm_overlap?: boolean;
  /** The software that ran it (stack.ts): its activation accounting, pipeline split and documented traits. */
  software: Stack;
  /**
   * The gradient reduction's dtype where the source states one for this run that differs from its
   * software's (stack.ts, gradientReduce): llm-foundry's table names each row's FSDP mixed-precision
   * mode, and MP Mode PURE reduces in bf16 ("compute").
   */
  grad_reduce?: GradientReduce;
  /** The cluster's network per node in Gb/s where it differs from the GPU preset's (one NIC of the preset's rate per GPU). */
  network_gbps_per_node?: number;
  published: { tokens_per_s_per_gpu?: number; mfu?: number; tflops_per_gpu?: number; flops_convention?: FlopsConvention };
}

export interface PublishedTable {
  sources: Record<string, { title: string; url: string }>;
  models: Record<string, Record<string, unknown>>;
  rows: PublishedRow[];
}

export interface PublishedValidation {
  row: PublishedRow;
  published: Evaluation;
  /** Tokens/s per GPU the source reports (or implies by its stated FLOP convention). */
  publishedTokensPerGpu: number;
  predictedTokensPerGpu: number;
  /** (predicted − published) / published. */
  error: number;
  /** The free search's best plan on the same problem (what the runtime executes: cp = 1). */
  free: Evaluation | undefined;
  /** The free plan's predicted tokens/s over the published layout's, minus 1. */
  freeGain: number;
}

export function publishedModel(table: PublishedTable, name: string): ModelProfile {
  const config = table.models[name];
  return config === undefined ? modelPreset(name) : profileFromConfig(config, name);
}

export function publishedProblem(table: PublishedTable, row: PublishedRow): Problem {
  if (!STACKS.includes(row.software))
    throw new Error(`${row.id}: unknown software '${String(row.software)}' (known: ${STACKS.join(", ")})`);
  const preset = hardwarePreset(row.gpu);
  return {
    model: publishedModel(table, row.model),
    hardware: row.network_gbps_per_node === undefined ? preset : withNodeNetwork(preset, row.network_gbps_per_node),
    stack: row.software,
    gpus: row.gpus,
    gpusPerNode: 8,
    seqLen: row.seq,
    globalBatch: row.global_batch,
    flashAttention: row.flash_attention ?? true,
    tpAcrossNodes: false,
    precision: row.precision,
    tpCommOverlap: row.tp_comm_overlap ?? false,
    ...(row.grad_reduce === undefined ? {} : { gradientReduce: row.grad_reduce }),
  };
}

export function publishedPlan(row: PublishedRow, model: ModelProfile): Plan {
  const dp = row.gpus / (row.tp * row.pp * row.cp);
  if (!Number.isInteger(dp)) throw new Error(`${row.id}: tp·pp·cp = ${row.tp * row.pp * row.cp} does not divide ${row.gpus} GPUs`);
  const layersPerStage = Math.ceil(model.layers / row.pp);
  return {
    dp,
    tp: row.tp,
    pp: row.pp,
    cp: row.cp,
    vpp: row.vpp,
    microBatch: row.micro_batch,
    gradAccum: row.global_batch / (dp * row.micro_batch),
    zero: row.zero,
    recompute: row.recompute,
    recomputeLayers: row.recompute === "full" ? layersPerStage : 0,
    sequenceParallel: row.sequence_parallel ?? row.tp > 1,
    offload: "none",
    hybridShard: false,
  };
}

/** Tokens/s per GPU a row reports, recovered from its FLOP convention where it reports FLOPs. */
export function publishedTokensPerGpu(row: PublishedRow, model: ModelProfile, peakFlops: number): number {
  const p = row.published;
  if (p.tokens_per_s_per_gpu !== undefined) return p.tokens_per_s_per_gpu;
  const { layers: l, hidden: h, vocab: V } = model;
  const s = row.seq;
  let flopsPerToken: number;
  let flops: number;
  if (p.flops_convention === "megatron-model" && p.mfu !== undefined) {
    // Korthikanti et al.: 72·B·s·l·h²(1 + s/6h + V/12lh) per step, no recompute.
    flopsPerToken = 72 * l * h * h * (1 + s / (6 * h) + V / (12 * l * h));
    flops = p.mfu * peakFlops;
  } else if (p.flops_convention === "megatron-hardware" && p.tflops_per_gpu !== undefined) {
    // Megatron-LM / Megatron-DeepSpeed with full recompute: 96·B·s·l·h²(1 + s/6h + V/16lh).
    flopsPerToken = 96 * l * h * h * (1 + s / (6 * h) + V / (16 * l * h));
    flops = p.tflops_per_gpu * 1e12;
  } else if (p.flops_convention === "6n-12lhs" && p.mfu !== undefined) {
    // PaLM's MFU: 6N + 12·L·q·s (N the GEMM weights, the whole score matrix counted).
    flopsPerToken = 6 * (l * layerParams(model).matmul + V * h) + 12 * l * model.heads * model.headDim * s;
    flops = p.mfu * peakFlops;
  } else {
    throw new Error(`${row.id}: published needs tokens_per_s_per_gpu, or mfu / tflops_per_gpu with a flops_convention`);
  }
  return flops / flopsPerToken;
}

export function validatePublished(table: PublishedTable, row: PublishedRow): PublishedValidation {
  const problem = publishedProblem(table, row);
  const published = evaluate(problem, publishedPlan(row, problem.model));
  const publishedRate = publishedTokensPerGpu(row, problem.model, problem.hardware.peakFlops);
  const predictedTokensPerGpu = published.prediction.tokensPerS / row.gpus;
  const free = search(problem, {}, { alternatives: 0 }).best;
  const freeGain = free === undefined ? 0 : free.prediction.tokensPerS / published.prediction.tokensPerS - 1;
  return {
    row,
    published,
    publishedTokensPerGpu: publishedRate,
    predictedTokensPerGpu,
    error: predictedTokensPerGpu / publishedRate - 1,
    free,
    freeGain,
  };
}
