// Exhaustive search over the valid plans, with two dominance prunes that never lose the optimum:
// recompute and offload only add time and only save memory, so for each parallel shape the search
// takes the cheapest recompute that fits (full recompute: the fewest layers, by bisection) and tries
// offload only when nothing fits on the GPU.
import { predictStep, type Prediction } from "./cost.js";
import { stageParams } from "./layout.js";
import { fits, memoryPerGpu, type MemoryBreakdown } from "./memory.js";
import { stackTraits } from "./stack.js";
import {
  explainNoShape,
  forEachShape,
  type Fixed,
  type Offload,
  type Plan,
  type Problem,
  type Recompute,
  type Refusal,
  type Shape,
} from "./space.js";

export interface Evaluation {
  plan: Plan;
  prediction: Prediction;
  memory: MemoryBreakdown;
  fits: boolean;
}

export interface SearchResult {
  best?: Evaluation;
  /** The next-best fitting plans, fastest first. */
  alternatives: Evaluation[];
  /** Plans evaluated by the cost model. */
  evaluated: number;
  searchMs: number;
  /** When no plan is valid for the fixed choices: the rule that refused them. */
  invalid?: Refusal;
  /** When valid plans exist but none fits: the one needing the least memory. */
  leastMemory?: Evaluation;
  /** When nothing fits: the smallest GPU count (same GPUs per node) on which a plan fits, keeping
   *  the fixed choices when some cluster takes them (`keepsFixed`), else freely chosen. */
  smallestFit?: { gpus: number; best: Evaluation; keepsFixed: boolean };
  /** When the fixed choices fit nowhere on this cluster but free choices do: the best free plan. */
  freeFit?: Evaluation;
}

export function evaluate(problem: Problem, plan: Plan): Evaluation {
  const memory = memoryPerGpu(problem, plan);
  return { plan, prediction: predictStep(problem, plan), memory, fits: fits(problem, memory) };
}

/** Keeps the `size` fastest fitting evaluations. */
class TopK {
  readonly items: Evaluation[] = [];
  constructor(private readonly size: number) {}

  offer(e: Evaluation): void {
    const items = this.items;
    if (items.length === this.size && e.prediction.step.total >= items[items.length - 1]!.prediction.step.total) return;
    let i = items.length;
    while (i > 0 && items[i - 1]!.prediction.step.total > e.prediction.step.total) i--;
    items.splice(i, 0, e);
    if (items.length > this.size) items.pop();
  }
}

function offloads(shape: Shape, fixed: Fixed): Offload[] {
  if (fixed.offload !== undefined) return fixed.offload === "optimizer+params" && shape.zero !== 3 ? [] : [fixed.offload];
  return shape.zero === 3 ? ["none", "optimizer", "optimizer+params"] : ["none", "optimizer"];
}

/** Fitting plans of one shape and offload choice: the cheapest recompute settings that fit. */
function recomputeChoices(
  problem: Problem,
  base: Omit<Plan, "recompute" | "recomputeLayers">,
  fixed: Fixed,
  seen: (e: Evaluation) => void,
): Evaluation[] {
  // Recompute counts layers per stage: up to the most any stage holds.
  const layersPerStage = Math.max(...stageParams(problem.model, base, stackTraits(problem.stack).pipelineSplit).layers);
  const modes: Recompute[] =
    fixed.recompute !== undefined ? [fixed.recompute] : problem.flashAttention ? ["none", "full"] : ["none", "selective", "full"];
  const out: Evaluation[] = [];
  const run = (recompute: Recompute, recomputeLayers: number): Evaluation => {
    const e = evaluate(problem, { ...base, recompute, recomputeLayers });
    seen(e);
    return e;
  };
  for (const mode of modes) {
    if (mode !== "full") {
      const e = run(mode, 0);
      if (e.fits) out.push(e);
      if (e.fits && mode === "none") return out;
      continue;
    }
    const k = fixed.recomputeLayers ?? (fixed.recompute === "full" ? layersPerStage : undefined);
    if (k !== undefined) {
      const e = run("full", Math.min(k, layersPerStage));
      if (e.fits) out.push(e);
      continue;
    }
    let all = run("full", layersPerStage);
    if (!all.fits) continue;
    let lo = 0; // memory falls as more layers are recomputed: bisect for the fewest that fit
    let hi = layersPerStage;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      const e = run("full", mid);
      if (e.fits) {
        hi = mid;
        all = e;
      } else lo = mid;
    }
    out.push(all);
  }
  return out;
}

export interface SearchOptions {
  /** How many next-best plans to return. */
  alternatives?: number;
  /** Stop at the first fitting plan (used to find the smallest cluster that fits). */
  anyFit?: boolean;
}

export function search(problem: Problem, fixed: Fixed, options: SearchOptions = {}): SearchResult {
  const start = performance.now();
  const top = new TopK((options.alternatives ?? 4) + 1);
  let evaluated = 0;
  let shapes = 0;
  let leastMemory: Evaluation | undefined;
  const seen = (e: Evaluation): void => {
    evaluated++;
    if (top.items.length === 0 && (leastMemory === undefined || e.memory.total < leastMemory.memory.total)) leastMemory = e;
  };
  forEachShape(problem, fixed, (shape) => {
    shapes++;
    if (options.anyFit === true && top.items.length > 0) return;
    for (const offload of offloads(shape, fixed)) {
      const found = recomputeChoices(problem, { ...shape, offload }, fixed, seen);
      for (const e of found) top.offer(e);
      if (found.length > 0) break;
    }
  });
  const [best, ...alternatives] = top.items;
  const result: SearchResult = { best, alternatives, evaluated, searchMs: performance.now() - start };
  if (best === undefined && shapes === 0) result.invalid = explainNoShape(problem, fixed);
  if (best === undefined && leastMemory !== undefined) result.leastMemory = leastMemory;
  return result;
}

/**
 * GPU counts to try for a cluster that fits: powers of two within a node, then 1–16 nodes, then
 * doublings up to `limit` (a few dozen searches at most, so the answer stays fast at any scale).
 */
function clusterSizes(from: number, perNode: number, limit: number): number[] {
  const sizes: number[] = [];
  for (let n = 1; n < perNode; n *= 2) sizes.push(n);
  for (let k = 1; k <= 16; k++) sizes.push(k * perNode);
  for (let n = 32 * perNode; n <= limit; n *= 2) sizes.push(n);
  return sizes.filter((n) => n > from && n <= limit);
}

/** The cluster-size search's ceiling. */
export const LARGEST_CLUSTER = 65536;

/** The smallest cluster (same GPUs per node) on which `fixed` has a fitting plan. */
function smallestCluster(problem: Problem, fixed: Fixed): { gpus: number; best: Evaluation } | undefined {
  for (const gpus of clusterSizes(problem.gpus, problem.gpusPerNode, LARGEST_CLUSTER)) {
    const larger = { ...problem, gpus };
    if (search(larger, fixed, { anyFit: true }).best === undefined) continue;
    const best = search(larger, fixed, { alternatives: 0 }).best;
    if (best !== undefined) return { gpus, best };
  }
  return undefined;
}

/**
 * Plans a problem; when nothing fits, also finds the smallest cluster on which something does (with
 * the fixed choices where a larger cluster takes them, else freely) and, for fixed choices, the best
 * free plan on this cluster.
 */
export function plan(problem: Problem, fixed: Fixed = {}, options: SearchOptions = {}): SearchResult {
  const start = performance.now();
  if (problem.precision === "fp8" && problem.hardware.fp8 === undefined) {
    const invalid = {
      rule: "fp8 matmuls need FP8 tensor cores",
      reason: `${problem.hardware.name} has none in its profile (H100, H200 do)`,
    };
    return { alternatives: [], evaluated: 0, searchMs: performance.now() - start, invalid };
  }
  const result = search(problem, fixed, options);
  if (result.best !== undefined) return result;
  const fixedAny = Object.keys(fixed).length > 0;
  if (fixedAny) result.freeFit = search(problem, whatIfsOnly(fixed), { alternatives: 0 }).best;
  const kept = fixedAny ? smallestCluster(problem, fixed) : undefined;
  if (kept !== undefined) result.smallestFit = { ...kept, keepsFixed: true };
  else if (result.freeFit === undefined) {
    const free = smallestCluster(problem, whatIfsOnly(fixed));
    if (free !== undefined) result.smallestFit = { ...free, keepsFixed: !fixedAny };
  }
  result.searchMs = performance.now() - start;
  return result;
}

/** The fixed choices a free re-plan keeps: the what-ifs the user asked to evaluate (cp). */
function whatIfsOnly(fixed: Fixed): Fixed {
  return fixed.cp !== undefined && fixed.cp > 1 ? { cp: fixed.cp } : {};
}
