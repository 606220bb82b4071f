// The framework time a calibration measures at the model's own widths: what the cost model does not
// already charge there (src/parallel/planner/measure.ts, frameworkOverhead).
import assert from "node:assert/strict";
import { test } from "node:test";
import { predictStep } from "../../src/parallel/planner/cost.js";
import { hardwarePreset, profileFromMeasurements, type Plan } from "../../src/parallel/planner/index.js";
import { profileFromConfig } from "../../src/parallel/planner/model_profile.js";
import { singleProcessPlan } from "../../src/parallel/planner/space.js";
import { smallLlamaConfig, smallLlamaMeasurements } from "./small_llama.js";

const raw = (layer?: { hidden: number; ffn: number; heads: number; tokens: number }) => ({
  ...smallLlamaMeasurements,
  framework: { oneLayer: 0.06, twoLayers: 0.11, ...(layer === undefined ? {} : { layer }) },
});

test("framework time at the model's widths is the measured step less the cost model's own prediction of it", () => {
  const base = { ...hardwarePreset("cpu"), devicesPerNode: 4 };
  const layer = { hidden: 256, ffn: 704, heads: 8, tokens: 128 };
  const p = profileFromMeasurements(raw(layer), base, "2026-01-01T00:00:00Z");
  const predicted = (layers: number): number => {
    const model = profileFromConfig({ ...smallLlamaConfig, vocab_size: 64, num_hidden_layers: layers }, "x");
    const plan: Plan = singleProcessPlan();
    const hardware = { ...p, overhead: undefined };
    const problem = { model, hardware, gpus: 1, gpusPerNode: 1, seqLen: 128, globalBatch: 1, flashAttention: true, tpAcrossNodes: false };
    return predictStep({ ...problem, precision: "fp32" }, plan).step.total;
  };
  const perLayer = 0.05 - (predicted(2) - predicted(1));
  assert.ok(perLayer > 0);
  assert.ok(Math.abs(p.overhead!.perLayerS - perLayer) < 1e-12, `${p.overhead!.perLayerS} vs ${perLayer}`);
  assert.ok(Math.abs(p.overhead!.perStepS - Math.max(0, 0.06 - perLayer - predicted(1))) < 1e-12);
  // A model too narrow for its math (no widths given): the line through both steps, as before.
  const narrow = profileFromMeasurements(raw(), base, "2026-01-01T00:00:00Z");
  assert.ok(Math.abs(narrow.overhead!.perLayerS - 0.05) < 1e-12 && Math.abs(narrow.overhead!.perStepS - 0.01) < 1e-12);
});
