// Exhaustive search over the valid plans, with two dominance prunes that never lose the optimum:
// recompute and offload only add time and only save memory, so for each parallel shape the search
// takes the cheapest recompute that fits (full recompute: the fewest layers, by bisection) and tries
// offload only when nothing fits on the GPU.
import { predictStep, type Prediction } from "./cost.js";
import { stageParams } from "./layout.js";
import { fits, memoryPerGpu, type MemoryBreakdown } from "./memory.js";
import { explainNoShape, forEachShape, type Fixed, type Offload, type Plan, type Problem, type Recompute, type Shape } from "./space.js";

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
  /** When nothing fits: why no valid plan exists for the fixed choices, if that is the reason. */
  invalid?: string;
  /** When nothing fits: the smallest GPU count (same GPUs per node) on which a plan fits. */
  smallestFit?: { gpus: number; best: Evaluation };
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
function recomputeChoices(problem: Problem, base: Omit<Plan, "recompute" | "recomputeLayers">, fixed: Fixed, count: () => void): Evaluation[] {
  // Recompute counts layers per stage: up to the most any stage holds.
  const layersPerStage = Math.max(...stageParams(problem.model, base).layers);
  const modes: Recompute[] = fixed.recompute !== undefined ? [fixed.recompute] : problem.flashAttention ? ["none", "full"] : ["none", "selective", "full"];
  const out: Evaluation[] = [];
  const run = (recompute: Recompute, recomputeLayers: number): Evaluation => {
    count();
    return evaluate(problem, { ...base, recompute, recomputeLayers });
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
  const count = (): void => {
    evaluated++;
  };
  forEachShape(problem, fixed, (shape) => {
    shapes++;
    if (options.anyFit === true && top.items.length > 0) return;
    for (const offload of offloads(shape, fixed)) {
      const found = recomputeChoices(problem, { ...shape, offload }, fixed, count);
      for (const e of found) top.offer(e);
      if (found.length > 0) break;
    }
  });
  const [best, ...alternatives] = top.items;
  const result: SearchResult = { best, alternatives, evaluated, searchMs: performance.now() - start };
  if (best === undefined && shapes === 0) result.invalid = explainNoShape(problem, fixed);
  return result;
}

/** GPU counts to try for a cluster that fits: powers of two within a node, then whole nodes. */
function clusterSizes(from: number, perNode: number, limit: number): number[] {
  const sizes: number[] = [];
  for (let n = 1; n < perNode; n *= 2) if (n > from) sizes.push(n);
  for (let n = perNode; n <= limit; n += perNode) if (n > from) sizes.push(n);
  return sizes;
}

/** Plans a problem; when nothing fits, also finds the smallest cluster on which something does. */
export function plan(problem: Problem, fixed: Fixed = {}, options: SearchOptions = {}): SearchResult {
  const start = performance.now();
  const result = search(problem, fixed, options);
  if (result.best !== undefined || result.invalid !== undefined) return result;
  if (Object.keys(fixed).length > 0) {
    result.freeFit = search(problem, {}, { alternatives: 0 }).best;
    if (result.freeFit !== undefined) {
      result.searchMs = performance.now() - start;
      return result;
    }
  }
  for (const gpus of clusterSizes(problem.gpus, problem.gpusPerNode, 65536)) {
    const larger = { ...problem, gpus };
    if (search(larger, {}, { anyFit: true }).best === undefined) continue;
    const best = search(larger, {}, { alternatives: 0 }).best;
    if (best !== undefined) result.smallestFit = { gpus, best };
    break;
  }
  result.searchMs = performance.now() - start;
  return result;
}
