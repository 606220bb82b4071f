// A decoder layer's time as the calibration measured it (hardware.ts, MeasuredLayers): the cost model
// charges it in place of its own count wherever the problem's layer is the one that was timed.
import type { MeasuredLayers } from "./hardware.js";
import type { ModelProfile } from "./model_profile.js";

/** The layer `layers` timed, as a model profile states it: a Llama-style layer (RMSNorm, gated MLP, no biases). */
export function layerShape(model: ModelProfile, seq: number, precision: string): MeasuredLayers["model"] | undefined {
  if (model.mlp !== "gated" || model.linearBias || model.qkvBias || model.dropout || model.activation !== "silu") return undefined;
  const { hidden, ffn, heads, kvHeads, headDim } = model;
  return { hidden, ffn, heads, kvHeads, headDim, seq, precision };
}

const sameShape = (a: MeasuredLayers["model"], b: MeasuredLayers["model"]): boolean =>
  (Object.keys(a) as Array<keyof MeasuredLayers["model"]>).every((k) => a[k] === b[k]);

/**
 * Forward and backward seconds of one layer on `tokens` tokens at tensor-parallel degree `tp`, from
 * the samples measured at that degree: the sample itself at a measured token count, else the line
 * through the two measured counts around `tokens` (the nearest two beyond the ends), or in
 * proportion to the one count measured. Undefined where the layer or the degree was not measured.
 */
export function measuredLayerTime(
  layers: MeasuredLayers | undefined,
  shape: MeasuredLayers["model"] | undefined,
  tp: number,
  tokens: number,
): { forward: number; backward: number } | undefined {
  if (layers === undefined || shape === undefined || !sameShape(layers.model, shape)) return undefined;
  const points = layers.samples.filter(([t]) => t === tp).sort((a, b) => a[1] - b[1]);
  if (points.length === 0) return undefined;
  if (points.length === 1) {
    const [, n, forward, backward] = points[0]!;
    return { forward: (forward * tokens) / n, backward: (backward * tokens) / n };
  }
  const above = points.findIndex(([, n]) => n >= tokens);
  const upper = above === -1 ? points.length - 1 : Math.max(1, above);
  const [, n0, f0, b0] = points[upper - 1]!;
  const [, n1, f1, b1] = points[upper]!;
  const at = (y0: number, y1: number): number => Math.max(0, y0 + ((y1 - y0) * (tokens - n0)) / (n1 - n0));
  return { forward: at(f0, f1), backward: at(b0, b1) };
}
