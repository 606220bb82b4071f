// Validation against Megatron-LM's published throughput (Narayanan et al., SC'21, Table 1): each row's
// configuration evaluated by the cost model, and the free search run on the same problem.
import { hardwarePreset } from "./hardware.js";
import { megatronGpt } from "./model_profile.js";
import { evaluate, search, type Evaluation } from "./search.js";
import type { Plan, Problem } from "./space.js";

export interface MegatronRow {
  params_b: number;
  layers: number;
  hidden: number;
  heads: number;
  tp: number;
  pp: number;
  dp: number;
  micro_batch: number;
  global_batch: number;
  gpus: number;
  tflops_per_gpu: number;
  virtual_layers_per_stage?: number;
}

export interface MegatronTable {
  training: { seq_len: number; vocab: number };
  rows: MegatronRow[];
}

export interface RowValidation {
  row: MegatronRow;
  published: Evaluation;
  free: Evaluation;
  /** (predicted − published) / published TFLOP/s per GPU. */
  error: number;
}

/**
 * The SC'21 runs: A100-80GB, unfused attention that stores the s×s scores, dropout, full activation
 * recompute of every layer, no distributed optimizer, no sequence parallelism (it came later).
 */
export function megatronProblem(table: MegatronTable, row: MegatronRow): Problem {
  const seq = table.training.seq_len;
  return {
    model: megatronGpt({ layers: row.layers, hidden: row.hidden, heads: row.heads, vocab: table.training.vocab, seq }),
    hardware: hardwarePreset("a100-80gb"),
    gpus: row.gpus,
    gpusPerNode: 8,
    seqLen: seq,
    globalBatch: row.global_batch,
    flashAttention: false,
    tpAcrossNodes: false,
  };
}

export function megatronPlan(row: MegatronRow): Plan {
  const vpp = row.virtual_layers_per_stage === undefined ? 1 : row.layers / row.pp / row.virtual_layers_per_stage;
  return {
    dp: row.dp,
    tp: row.tp,
    pp: row.pp,
    cp: 1,
    vpp,
    microBatch: row.micro_batch,
    gradAccum: row.global_batch / (row.dp * row.micro_batch),
    zero: 0,
    recompute: "full",
    recomputeLayers: row.layers / row.pp,
    sequenceParallel: false,
    offload: "none",
    hybridShard: false,
  };
}

export function validateRow(table: MegatronTable, row: MegatronRow): RowValidation {
  const problem = megatronProblem(table, row);
  const published = evaluate(problem, megatronPlan(row));
  const free = search(problem, {}).best;
  if (free === undefined) throw new Error(`no plan fits the ${row.params_b}B row`);
  return { row, published, free, error: published.prediction.tflopsPerGpu / row.tflops_per_gpu - 1 };
}
