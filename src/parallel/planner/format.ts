// Renders a search result: the JSON contract of `tessera plan --json`, and a readable table.
import { planToJson, type PlanJson } from "./plan_json.js";
import type { Evaluation, SearchResult } from "./search.js";
import type { Problem } from "./space.js";

export interface PredictedJson {
  step_time_s: number;
  tokens_per_s: number;
  tflops_per_gpu: number;
  mfu: number;
  memory_per_gpu_bytes: number;
  time_breakdown_s: Record<string, number>;
  memory_breakdown_bytes: Record<string, number>;
}

export interface EvaluationJson {
  plan: PlanJson;
  predicted: PredictedJson;
}

export function evaluationJson(e: Evaluation): EvaluationJson {
  const { total, ...time } = e.prediction.step;
  const { total: memoryTotal, ...memory } = e.memory;
  return {
    plan: planToJson(e.plan),
    predicted: {
      step_time_s: total, tokens_per_s: e.prediction.tokensPerS, tflops_per_gpu: e.prediction.tflopsPerGpu, mfu: e.prediction.mfu,
      memory_per_gpu_bytes: memoryTotal, time_breakdown_s: time, memory_breakdown_bytes: memory,
    },
  };
}

/** The message for a problem on which nothing fits. */
export function noFitMessage(problem: Problem, result: SearchResult): string {
  if (result.invalid !== undefined) return `no valid plan: ${result.invalid}`;
  const what = `${problem.model.name} (seq ${problem.seqLen}, global batch ${problem.globalBatch}) does not fit on ${problem.gpus} × ${problem.hardware.name}`;
  if (result.freeFit !== undefined) return `${what} with the fixed choices; without them the best plan is ${describe(result.freeFit)}.`;
  const fit = result.smallestFit;
  if (fit === undefined) return `${what}, nor on any cluster up to 65536 GPUs.`;
  return `${what}; the smallest cluster that fits is ${fit.gpus} GPUs (${describe(fit.best)}).`;
}

export function resultJson(problem: Problem, result: SearchResult): Record<string, unknown> {
  const base = {
    model: problem.model.name, hardware: problem.hardware.name, gpus: problem.gpus, gpus_per_node: problem.gpusPerNode,
    seq_len: problem.seqLen, global_batch: problem.globalBatch, precision: problem.precision ?? "bf16-mixed", search_ms: result.searchMs, evaluated: result.evaluated,
  };
  if (result.best === undefined) {
    const smallest = result.smallestFit === undefined ? null : { gpus: result.smallestFit.gpus, ...evaluationJson(result.smallestFit.best) };
    const free = result.freeFit === undefined ? null : evaluationJson(result.freeFit);
    return { ...base, fits: false, error: noFitMessage(problem, result), smallest_fit: smallest, free_fit: free };
  }
  return { ...base, fits: true, ...evaluationJson(result.best), alternatives: result.alternatives.map(evaluationJson) };
}

const GiB = 2 ** 30;

/** The ZeRO stage, `+hsdp` when hybrid-sharded. */
function zeroLabel(p: Evaluation["plan"]): string {
  return `${p.zero}${p.hybridShard ? "+hsdp" : ""}`;
}

/** `full(k)`: k layers of each pipeline stage recomputed. */
function recomputeLabel(p: Evaluation["plan"]): string {
  return p.recompute === "full" ? `full(${p.recomputeLayers})` : p.recompute;
}

function describe(e: Evaluation): string {
  const p = e.plan;
  return `dp=${p.dp} tp=${p.tp}${p.sequenceParallel ? "+sp" : ""} pp=${p.pp}${p.vpp > 1 ? `×${p.vpp}` : ""} mbs=${p.microBatch} ga=${p.gradAccum} zero=${zeroLabel(p)} recompute=${recomputeLabel(p)}${p.offload === "none" ? "" : ` offload=${p.offload}`}`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ")).join("\n");
}

function row(e: Evaluation, label: string): string[] {
  const p = e.plan;
  return [
    label, String(p.dp), `${p.tp}${p.sequenceParallel ? "+sp" : ""}`, p.vpp > 1 ? `${p.pp}×${p.vpp}` : String(p.pp), String(p.microBatch), String(p.gradAccum),
    zeroLabel(p), recomputeLabel(p), p.offload, e.prediction.step.total.toFixed(3), Math.round(e.prediction.tokensPerS).toLocaleString("en-US"),
    e.prediction.tflopsPerGpu.toFixed(1), `${(100 * e.prediction.mfu).toFixed(1)}%`, (e.memory.total / GiB).toFixed(1),
  ];
}

export function resultText(problem: Problem, result: SearchResult): string {
  const header = `${problem.model.name} on ${problem.gpus} × ${problem.hardware.name} (${problem.gpusPerNode} per node), seq ${problem.seqLen}, global batch ${problem.globalBatch}${problem.precision === "fp32" ? ", fp32" : ""}`;
  const timing = `searched ${result.evaluated.toLocaleString("en-US")} plans in ${result.searchMs.toFixed(1)} ms`;
  const best = result.best;
  if (best === undefined) return `${header}\n\n${noFitMessage(problem, result)}\n${timing}`;
  const heads = ["", "dp", "tp", "pp", "mbs", "ga", "zero", "recompute", "offload", "step s", "tokens/s", "TFLOP/s", "MFU", "GiB/GPU"];
  const plans = table([heads, row(best, "best"), ...result.alternatives.map((e, i) => row(e, `alt ${i + 1}`))]);
  const s = best.prediction.step;
  const share = (x: number) => `${x.toFixed(3)} s (${((100 * x) / s.total).toFixed(1)}%)`;
  const why = table([
    ["where the time goes", ""],
    ["compute", share(s.compute)], ["recompute", share(s.recompute)], ["tensor-parallel comm", share(s.tpComm)],
    ["pipeline p2p", share(s.ppComm)], ["pipeline bubble", share(s.bubble)], ["exposed DP/ZeRO comm", share(s.dpComm)],
    ["optimizer/offload", share(s.optimizer)],
  ]);
  const m = best.memory;
  const gib = (x: number) => `${(x / GiB).toFixed(2)} GiB`;
  const memory = table([
    ["memory per GPU", ""],
    ["weights", gib(m.weights)], ["gradients", gib(m.gradients)], ["optimizer states", gib(m.optimizer)], ["activations", gib(m.activations)],
    ["buffers (logits, gathers)", gib(m.buffers)], ["fragmentation margin", gib(m.fragmentation)], ["CUDA context/workspaces", gib(m.reserved)],
    ["total", `${gib(m.total)} of ${gib(problem.hardware.memoryBytes)}`], ...(m.host > 0 ? [["host RAM (offload)", gib(m.host)]] : []),
  ]);
  return `${header}\n\n${plans}\n\n${why}\n\n${memory}\n\n${timing}`;
}
