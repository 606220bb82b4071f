// Renders a search result: the JSON contract of `tessera plan --json`, and a readable table.
import { planToJson, type PlanJson } from "./plan_json.js";
import type { Evaluation, SearchResult } from "./search.js";
import { LARGEST_CLUSTER } from "./search.js";
import { whatIfs, type Problem } from "./space.js";

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
  /** Choices the runtime does not execute (context parallelism, FP8 matmuls): the plan is a what-if. */
  not_executed_by_runtime: string[];
  predicted: PredictedJson;
}

export function evaluationJson(problem: Problem, e: Evaluation): EvaluationJson {
  const { total, ...time } = e.prediction.step;
  const { total: memoryTotal, ...memory } = e.memory;
  return {
    plan: planToJson(e.plan),
    not_executed_by_runtime: whatIfs(problem, e.plan),
    predicted: {
      step_time_s: total,
      tokens_per_s: e.prediction.tokensPerS,
      tflops_per_gpu: e.prediction.tflopsPerGpu,
      mfu: e.prediction.mfu,
      memory_per_gpu_bytes: memoryTotal,
      time_breakdown_s: time,
      memory_breakdown_bytes: memory,
    },
  };
}

const GiB = 2 ** 30;

/**
 * The message for a problem on which nothing fits: "no plan fits", the rule that refused (a layout
 * rule, or the memory rule with what the leanest plan needs), and the smallest cluster that fits.
 */
export function noFitMessage(problem: Problem, result: SearchResult): string {
  const what = `${problem.model.name} (seq ${problem.seqLen}, global batch ${problem.globalBatch}) on ${problem.gpus} × ${problem.hardware.name}`;
  let why: string;
  if (result.invalid !== undefined) why = `rule "${result.invalid.rule}": ${result.invalid.reason}`;
  else {
    const lean = result.leastMemory;
    const need =
      lean === undefined
        ? ""
        : `: the leanest plan (${describe(lean)}) needs ${(lean.memory.total / GiB).toFixed(1)} GiB per GPU${lean.memory.host > 0 ? ` and ${(lean.memory.host / GiB).toFixed(1)} GiB host RAM` : ""}`;
    why = `rule "memory per GPU ≤ ${(problem.hardware.memoryBytes / GiB).toFixed(0)} GiB device memory (host RAM ≤ ${(problem.hardware.host.memoryBytesPerDevice / GiB).toFixed(0)} GiB per GPU for offload)"${need}`;
  }
  const parts = [`no plan fits ${what}: ${why}.`];
  if (result.freeFit !== undefined) parts.push(`Without the fixed choices the best plan is ${describe(result.freeFit)}.`);
  const fit = result.smallestFit;
  if (fit !== undefined)
    parts.push(
      `The smallest cluster that fits is ${fit.gpus} GPUs (${describe(fit.best)}${fit.keepsFixed ? "" : ", the fixed choices dropped"}).`,
    );
  else if (result.freeFit === undefined) parts.push(`No cluster up to ${LARGEST_CLUSTER} GPUs fits either.`);
  return parts.join(" ");
}

export function resultJson(problem: Problem, result: SearchResult): Record<string, unknown> {
  const base = {
    model: problem.model.name,
    hardware: problem.hardware.name,
    gpus: problem.gpus,
    gpus_per_node: problem.gpusPerNode,
    seq_len: problem.seqLen,
    global_batch: problem.globalBatch,
    precision: problem.precision ?? "bf16-mixed",
    search_ms: result.searchMs,
    evaluated: result.evaluated,
  };
  if (result.best === undefined) {
    const smallest =
      result.smallestFit === undefined
        ? null
        : {
            gpus: result.smallestFit.gpus,
            keeps_fixed: result.smallestFit.keepsFixed,
            ...evaluationJson(problem, result.smallestFit.best),
          };
    const free = result.freeFit === undefined ? null : evaluationJson(problem, result.freeFit);
    const rule = result.invalid?.rule ?? "memory per GPU ≤ device memory";
    return { ...base, fits: false, error: noFitMessage(problem, result), rule, smallest_fit: smallest, free_fit: free };
  }
  return {
    ...base,
    fits: true,
    ...evaluationJson(problem, result.best),
    alternatives: result.alternatives.map((e) => evaluationJson(problem, e)),
  };
}

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
  return `dp=${p.dp} tp=${p.tp}${p.sequenceParallel ? "+sp" : ""}${p.cp > 1 ? ` cp=${p.cp}` : ""} pp=${p.pp}${p.vpp > 1 ? `×${p.vpp}` : ""} mbs=${p.microBatch} ga=${p.gradAccum} zero=${zeroLabel(p)} recompute=${recomputeLabel(p)}${p.offload === "none" ? "" : ` offload=${p.offload}`}`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ")).join("\n");
}

function row(e: Evaluation, label: string): string[] {
  const p = e.plan;
  return [
    label,
    String(p.dp),
    `${p.tp}${p.sequenceParallel ? "+sp" : ""}`,
    String(p.cp),
    p.vpp > 1 ? `${p.pp}×${p.vpp}` : String(p.pp),
    String(p.microBatch),
    String(p.gradAccum),
    zeroLabel(p),
    recomputeLabel(p),
    p.offload,
    e.prediction.step.total.toFixed(3),
    Math.round(e.prediction.tokensPerS).toLocaleString("en-US"),
    e.prediction.tflopsPerGpu.toFixed(1),
    `${(100 * e.prediction.mfu).toFixed(1)}%`,
    (e.memory.total / GiB).toFixed(1),
  ];
}

export function resultText(problem: Problem, result: SearchResult): string {
  const precision = problem.precision === undefined || problem.precision === "bf16-mixed" ? "" : `, ${problem.precision}`;
  const header = `${problem.model.name} on ${problem.gpus} × ${problem.hardware.name} (${problem.gpusPerNode} per node), seq ${problem.seqLen}, global batch ${problem.globalBatch}${precision}`;
  const timing = `searched ${result.evaluated.toLocaleString("en-US")} plans in ${result.searchMs.toFixed(1)} ms`;
  const best = result.best;
  if (best === undefined) return `${header}\n\n${noFitMessage(problem, result)}\n${timing}`;
  const heads = [
    "",
    "dp",
    "tp",
    "cp",
    "pp",
    "mbs",
    "ga",
    "zero",
    "recompute",
    "offload",
    "step s",
    "tokens/s",
    "TFLOP/s",
    "MFU",
    "GiB/GPU",
  ];
  const plans = table([heads, row(best, "best"), ...result.alternatives.map((e, i) => row(e, `alt ${i + 1}`))]);
  const s = best.prediction.step;
  const share = (x: number) => `${x.toFixed(3)} s (${((100 * x) / s.total).toFixed(1)}%)`;
  const why = table([
    ["where the time goes", ""],
    ["compute", share(s.compute)],
    ["recompute", share(s.recompute)],
    ["tensor-parallel comm", share(s.tpComm)],
    ["context-parallel ring", share(s.cpComm)],
    ["pipeline p2p", share(s.ppComm)],
    ["pipeline bubble", share(s.bubble)],
    ["exposed DP/ZeRO comm", share(s.dpComm)],
    ["optimizer/offload", share(s.optimizer)],
  ]);
  const m = best.memory;
  const gib = (x: number) => `${(x / GiB).toFixed(2)} GiB`;
  const memory = table([
    ["memory per GPU", ""],
    ["weights", gib(m.weights)],
    ["gradients", gib(m.gradients)],
    ["optimizer states", gib(m.optimizer)],
    ["activations", gib(m.activations)],
    ["buffers (logits, gathers)", gib(m.buffers)],
    ["fragmentation margin", gib(m.fragmentation)],
    ["CUDA context/workspaces", gib(m.reserved)],
    ["total", `${gib(m.total)} of ${gib(problem.hardware.memoryBytes)}`],
    ...(m.host > 0 ? [["host RAM (offload)", gib(m.host)]] : []),
  ]);
  const notExecuted = whatIfs(problem, best.plan);
  const whatIf =
    notExecuted.length === 0
      ? ""
      : `\n\nwhat-if: ${notExecuted.join(" and ")} not executed by the runtime (tessera run cannot apply this plan)`;
  return `${header}\n\n${plans}${whatIf}\n\n${why}\n\n${memory}\n\n${timing}`;
}
