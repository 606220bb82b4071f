// How a pipeline splits the decoder layers, and what each pipeline rank holds in flight: one
// function for the planner and the runtime (src/parallel/executors/pipeline.ts), so that the plan
// the planner priced is the one that runs.
//
// The model is cut into pp·vpp chunks of consecutive layers; chunk c runs on pipeline rank c mod pp
// (Megatron's interleaved placement; vpp = 1 is one chunk per rank). The first chunk also runs the
// embedding, the last the output projection and loss. The split balances forward work: each chunk
// starts with one layer, then each further layer goes to the least-loaded chunk, where the last
// chunk's load counts the output projection in layers (its GEMM FLOPs over a layer's) and the
// embedding lookup counts nothing. Among equally loaded chunks the one nearest the middle wins, so
// the first and last chunks take fewer layers when the count does not divide (the first stage
// also holds the most micro-batches in flight). A layer count the chunk count does not divide is
// fine; every chunk needs at least one layer.
import { headForwardFlopsPerToken, layerForwardFlopsPerToken, type ModelProfile } from "./model_profile.js";
import type { Plan } from "./space.js";
import type { StackTraits } from "./stack.js";

type PipelineSplit = StackTraits["pipelineSplit"];

/** The output layer's forward work in layers: its GEMM FLOPs over a layer's (the attention term depends on the sequence; the split does not). */
export function headLoad(model: ModelProfile): number {
  return headForwardFlopsPerToken(model) / layerForwardFlopsPerToken(model, 0).gemm;
}

/**
 * Layers of each model chunk, first to last (pp·vpp of them): the runtime's balanced split, or a
 * published stack's ("megatron", stack.ts) where its rule applies to the layer count.
 */
export function chunkLayers(model: ModelProfile, plan: Pick<Plan, "pp" | "vpp">, split: PipelineSplit = "balanced"): number[] {
  const chunks = plan.pp * plan.vpp;
  if (split === "megatron") {
    const even = megatronSplit(model.layers, chunks);
    if (even !== null) return even;
  }
  return splitLayers(model.layers, chunks, headLoad(model));
}

/**
 * Megatron's split: layers / chunks to every chunk; when that does not divide, the embedding and the
 * output layer count as one layer each, so the first and last chunks hold one layer fewer. Null when
 * neither divides (the stack would refuse the layout; the balanced split stands in).
 */
export function megatronSplit(layers: number, chunks: number): number[] | null {
  if (layers % chunks === 0) return new Array<number>(chunks).fill(layers / chunks);
  const per = (layers + 2) / chunks;
  if (chunks < 2 || !Number.isInteger(per) || per < 2) return null;
  const out = new Array<number>(chunks).fill(per);
  out[0] = out[chunks - 1] = per - 1;
  return out;
}

/** Splits already made: the search asks for the same few thousands of times (a copy goes out). */
const splits = new Map<string, readonly number[]>();

/** `layers` over `chunks`, the last chunk carrying `headLoad` layers' worth of extra work. */
export function splitLayers(layers: number, chunks: number, headLoad: number): number[] {
  const key = `${layers}/${chunks}/${headLoad}`;
  let split = splits.get(key);
  if (split === undefined) {
    split = computeSplit(layers, chunks, headLoad);
    if (splits.size > 4096) splits.clear();
    splits.set(key, split);
  }
  return [...split];
}

function computeSplit(layers: number, chunks: number, headLoad: number): number[] {
  if (!Number.isInteger(chunks) || chunks < 1) throw new RangeError(`pipeline: ${chunks} chunks`);
  if (layers < chunks) throw new RangeError(`pipeline: ${layers} layers cannot fill ${chunks} chunks (pp·vpp) of at least one layer`);
  const counts = new Array<number>(chunks).fill(1);
  const load = (c: number): number => counts[c] + (c === chunks - 1 && chunks > 1 ? headLoad : 0);
  const middle = (chunks - 1) / 2;
  for (let left = layers - chunks; left > 0; left--) {
    let best = 0;
    for (let c = 1; c < chunks; c++) {
      const d = load(c) - load(best);
      if (d < -1e-9 || (Math.abs(d) <= 1e-9 && Math.abs(c - middle) < Math.abs(best - middle))) best = c;
    }
    counts[best]++;
  }
  return counts;
}

/** Layers each pipeline rank holds: the sum of its chunks. */
export function stageLayers(chunks: number[], pp: number): number[] {
  const out = new Array<number>(pp).fill(0);
  chunks.forEach((n, c) => (out[c % pp] += n));
  return out;
}

/**
 * Micro-batches whose activations pipeline rank `rank` holds at its peak, in units of its whole
 * stage: p − r under 1F1B; under interleaving (Narayanan et al. 2021, §2.2.2) the warm-up runs
 * 2(p − r − 1) + (v − 1)p chunks before the first backward, so 1 + that many chunks of 1/v of the
 * stage each; never more than the accumulation steps. The schedule the runtime runs
 * (executors/pipeline_schedule.ts) holds exactly this many (test/parallel/pp_schedule.test.ts).
 */
export function inFlightMicroBatches(plan: Pick<Plan, "pp" | "vpp" | "gradAccum">, rank = 0): number {
  const { pp: p, vpp: v, gradAccum: m } = plan;
  if (v === 1) return Math.min(p - rank, m);
  return Math.min(2 * (p - rank - 1) + (v - 1) * p + 1, m * v) / v;
}

/**
 * Layers whose activations pipeline rank `rank` holds at its peak: its in-flight chunks
 * (inFlightMicroBatches × vpp) at its largest chunk's layers each. Exact when the rank's chunks are
 * even (always under 1F1B), an upper bound otherwise: an uneven interleaved split (the output
 * layer's chunk takes fewer layers) may hold fewer of its large chunk at once (bench/pipeline.ts).
 */
export function inFlightLayers(chunks: number[], plan: Pick<Plan, "pp" | "vpp" | "gradAccum">, rank: number): number {
  const mine = chunks.filter((_, c) => c % plan.pp === rank);
  return inFlightMicroBatches(plan, rank) * plan.vpp * Math.max(...mine);
}
