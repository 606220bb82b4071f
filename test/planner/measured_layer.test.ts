// The decoder layer a CPU calibration times (hardware.ts MeasuredLayers; measured_layer.ts; the cost
// model's use of it, cost.ts measuredLayerTimes; the framework time it leaves, measure.ts). Values by hand.
import assert from "node:assert/strict";
import { test } from "node:test";
import { layerCalibrationShapes } from "../../src/launch/calibrate.js";
import {
  evaluate,
  hardwarePreset,
  layerShape,
  makeProblem,
  measuredLayerTime,
  modelPreset,
  profileFromMeasurements,
  validateHardwareProfile,
  type HardwareProfile,
  type MeasuredLayers,
  type Plan,
} from "../../src/parallel/planner/index.js";
import { predictStep } from "../../src/parallel/planner/cost.js";
import { profileFromConfig } from "../../src/parallel/planner/model_profile.js";
import { singleProcessPlan } from "../../src/parallel/planner/space.js";
import { smallLlama, smallLlamaConfig, smallLlamaMeasurements } from "./small_llama.js";

const shape = { hidden: 256, ffn: 704, heads: 8, kvHeads: 8, headDim: 32, seq: 128, precision: "fp32" };
const layers: MeasuredLayers = {
  model: shape,
  samples: [
    [1, 256, 0.01, 0.02],
    [1, 512, 0.018, 0.034],
    [2, 512, 0.012, 0.02],
  ],
};

test("the layer's shapes: a Llama-style layer of the model at its sequence; other layers are not timed", () => {
  assert.deepEqual(layerShape(smallLlama, 128, "fp32"), shape);
  assert.equal(layerShape(modelPreset("gpt2"), 128, "fp32"), undefined);
});

test("a measured layer's time: the sample itself, the line through the two around, beyond the ends, one sample in proportion", () => {
  assert.deepEqual(measuredLayerTime(layers, shape, 1, 256), { forward: 0.01, backward: 0.02 });
  assert.deepEqual(measuredLayerTime(layers, shape, 1, 512), { forward: 0.018, backward: 0.034 });
  const mid = measuredLayerTime(layers, shape, 1, 384)!;
  assert.ok(Math.abs(mid.forward - 0.014) < 1e-15 && Math.abs(mid.backward - 0.027) < 1e-15, JSON.stringify(mid));
  const above = measuredLayerTime(layers, shape, 1, 1024)!;
  assert.ok(Math.abs(above.forward - 0.034) < 1e-15 && Math.abs(above.backward - 0.062) < 1e-15, JSON.stringify(above));
  const below = measuredLayerTime(layers, shape, 1, 128)!;
  assert.ok(Math.abs(below.forward - 0.006) < 1e-15 && Math.abs(below.backward - 0.013) < 1e-15, JSON.stringify(below));
  assert.deepEqual(measuredLayerTime(layers, shape, 2, 1024), { forward: 0.024, backward: 0.04 });
  // A TP degree, a sequence, a width or a precision that was not timed: no measurement.
  assert.equal(measuredLayerTime(layers, shape, 4, 512), undefined);
  assert.equal(measuredLayerTime(layers, { ...shape, seq: 256 }, 1, 512), undefined);
  assert.equal(measuredLayerTime(layers, { ...shape, hidden: 512 }, 1, 512), undefined);
  assert.equal(measuredLayerTime(layers, { ...shape, precision: "bf16-mixed" }, 1, 512), undefined);
  assert.equal(measuredLayerTime(undefined, shape, 1, 512), undefined);
});

const cpu: HardwareProfile = { ...hardwarePreset("cpu"), devicesPerNode: 4 };
const problem = (hardware: HardwareProfile, model = smallLlama) =>
  makeProblem(model, 4, { hardware, gpusPerNode: 4, seqLen: 128, globalBatch: 8, precision: "fp32" });

test("the cost model charges the measured layer in place of its count, on every layer and micro-batch, at the plan's TP degree", () => {
  const withLayers = { ...cpu, layers };
  // dp 4, 2 sequences a rank: 256 tokens, 4 layers, one micro-batch.
  const dp: Plan = singleProcessPlan({ dp: 4, microBatch: 2, zero: 0 });
  const counted = evaluate(problem(cpu), dp).prediction.step;
  const measured = evaluate(problem(withLayers), dp).prediction.step;
  // compute = 4 layers × (forward + backward) + the output layer and loss.
  assert.ok(Math.abs(measured.compute - (head(256, 1) + 4 * (0.01 + 0.02))) < 1e-12, `${measured.compute}`);
  assert.equal(measured.dpComm, counted.dpComm);
  assert.equal(measured.optimizer, counted.optimizer);
  // tp 2 × dp 2: 4 sequences a rank, 512 tokens through the TP executor's layer.
  const tp: Plan = singleProcessPlan({ dp: 2, tp: 2, microBatch: 4, sequenceParallel: true });
  const tpCounted = evaluate(problem(cpu), tp).prediction.step;
  const tpMeasured = evaluate(problem(withLayers), tp).prediction.step;
  assert.ok(Math.abs(tpMeasured.compute - (head(512, 2) + 4 * (0.012 + 0.02))) < 1e-12, `${tpMeasured.compute}`);
  // The measured TP layer holds its collectives: only the embedding's and output layer's are charged,
  // what the count charges beside its 4 layers' (4 and 8 counted layers give the per-layer share).
  const eight = profileFromConfig({ ...smallLlamaConfig, num_hidden_layers: 8 }, "eight");
  const perLayer = (evaluate(problem(cpu, eight), tp).prediction.step.tpComm - tpCounted.tpComm) / 4;
  assert.ok(perLayer > 0);
  assert.ok(Math.abs(tpMeasured.tpComm - (tpCounted.tpComm - 4 * perLayer)) < 1e-12, `${tpMeasured.tpComm}`);
  // Without sequence parallelism the executor's layer differs from the one timed: the count.
  const plain: Plan = { ...tp, sequenceParallel: false };
  assert.deepEqual(evaluate(problem(withLayers), plain).prediction.step, evaluate(problem(cpu), plain).prediction.step);
  // A TP degree not measured, or another model: the count, unchanged.
  const tp4: Plan = singleProcessPlan({ dp: 1, tp: 4, microBatch: 8, sequenceParallel: true });
  assert.deepEqual(evaluate(problem(withLayers), tp4).prediction.step, evaluate(problem(cpu), tp4).prediction.step);
  const wider = profileFromConfig({ ...smallLlamaConfig, hidden_size: 512 }, "wider");
  assert.deepEqual(evaluate(problem(withLayers, wider), dp).prediction.step, evaluate(problem(cpu, wider), dp).prediction.step);
});

/**
 * The output layer and loss on `tokens` tokens over `tp` ranks, as the cost model counts them on the
 * cpu preset (not measured): 3 × 2·V·h FLOPs a token at 1 TFLOP/s × 0.6·256/(256 + 256), and 3 × 2
 * passes over 12 bytes a logit at 60 GB/s.
 */
function head(tokens: number, tp: number): number {
  return (3 * 2 * 4096 * 256 * tokens) / tp / (1e12 * 0.3) + (3 * 2 * tokens * 4096 * 12) / tp / 60e9;
}

test("a pipeline's stages and recomputed forwards run at the measured layer's time", () => {
  const withLayers = { ...cpu, layers };
  // pp 2 × dp 2, 2 micro-batches of 2 sequences (256 tokens): the balanced split puts 3 layers on the
  // first stage and 1 beside the output layer on the last (stages.ts). No shared cores: the first
  // stage (3 × 30 ms a micro-batch) sets the pace; the bubble is the last stage's micro-batch and its sends.
  const pp: Plan = singleProcessPlan({ dp: 2, pp: 2, microBatch: 2, gradAccum: 2 });
  const step = evaluate(problem(withLayers), pp).prediction.step;
  assert.ok(Math.abs(step.compute - 2 * 3 * (0.01 + 0.02)) < 1e-12, `${step.compute}`);
  const bubble = 0.01 + 0.02 + head(256, 1) + step.ppComm / 2;
  assert.ok(Math.abs(step.bubble - bubble) < 1e-12, `${step.bubble} vs ${bubble}`);
  // Every layer of a stage recomputed: its measured forward again.
  const full: Plan = { ...pp, recompute: "full", recomputeLayers: 3 };
  const recompute = evaluate(problem(withLayers), full).prediction.step.recompute;
  assert.ok(Math.abs(recompute - 2 * 3 * 0.01) < 1e-12, `${recompute}`);
});

test("a profile's measured layers survive JSON, and malformed samples are refused naming the field", () => {
  const p = { ...cpu, layers };
  assert.deepEqual(validateHardwareProfile(JSON.parse(JSON.stringify(p))), p);
  assert.throws(() => validateHardwareProfile({ ...p, layers: { model: shape, samples: [[1, 256, -1, 0.02]] } }), /layers\.samples/);
  assert.throws(
    () => validateHardwareProfile({ ...p, layers: { model: { ...shape, seq: "x" }, samples: layers.samples } }),
    /layers\.model\.seq/,
  );
});

test("with the framework step's layer measured, the step's framework time is what that step took beyond the model's charge", () => {
  const raw = {
    ...smallLlamaMeasurements,
    framework: { oneLayer: 0.09, twoLayers: 0.2, layer: { hidden: 256, ffn: 704, heads: 8, kvHeads: 8, tokens: 128, batch: 2 } },
    layers,
  };
  const p = profileFromMeasurements(raw, cpu, "2026-01-01T00:00:00Z");
  assert.deepEqual(p.layers, layers);
  const model = profileFromConfig({ ...smallLlamaConfig, vocab_size: 64, num_hidden_layers: 1 }, "one");
  const oneLayer = predictStep(
    {
      ...makeProblem(model, 1, {
        hardware: { ...p, overhead: undefined, sharedCores: undefined },
        seqLen: 128,
        globalBatch: 2,
        precision: "fp32",
      }),
      gpusPerNode: 1,
    },
    singleProcessPlan({ microBatch: 2 }),
  ).step.total;
  assert.equal(p.overhead!.perLayerS, 0);
  assert.ok(Math.abs(p.overhead!.perStepS - (0.09 - oneLayer)) < 1e-12, `${p.overhead!.perStepS} vs ${0.09 - oneLayer}`);
});

test("the calibration times the plans' layers: TP degrees dividing the heads up to the ranks, sequences within a CPU's bounds", () => {
  const s = layerCalibrationShapes(smallLlama, 128, 4);
  // 6 × 802,816 weights × 128 tokens: 0.617 GFLOP a sequence, ÷ tp a rank; at most 4 GFLOP and 2,048
  // tokens (16 sequences): up to 4 sequences at TP 1, 8 at TP 2, 16 at TP 4.
  const upTo = (tp: number, last: number) => [1, 2, 4, 8, 16].filter((b) => b <= last).map((batch) => ({ tp, batch }));
  assert.deepEqual(s.layers?.points, [...upTo(1, 4), ...upTo(2, 8), ...upTo(4, 16)]);
  assert.equal(s.layers?.concurrencyBatch, 1);
  assert.deepEqual(s.layer, { hidden: 256, ffn: 704, heads: 8, kvHeads: 8, tokens: 128, batch: 1 });
  // The plans' own points where given; the framework steps at the smallest TP-1 micro-batch.
  const own = layerCalibrationShapes(smallLlama, 128, 4, [
    { tp: 1, batch: 2 },
    { tp: 2, batch: 4 },
  ]);
  assert.equal(own.layers?.concurrencyBatch, 2);
  assert.equal(own.layer?.batch, 2);
  assert.deepEqual(layerCalibrationShapes(modelPreset("gpt2"), 128, 4), {});
});
