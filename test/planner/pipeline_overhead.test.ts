// The pipeline executor's own work per task on ranks sharing cores: what the calibration's pipelined
// step takes beyond the cost model's prediction of it (src/parallel/planner/measure.ts,
// pipelineOverhead), and its charge in the pipeline simulation (cost.ts); what data-parallel replicas
// add per step (replicaOverhead), charged once per step. Values by hand.
import assert from "node:assert/strict";
import { test } from "node:test";
import { predictStep } from "../../src/parallel/planner/cost.js";
import {
  evaluate,
  hardwarePreset,
  makeProblem,
  profileFromMeasurements,
  validateHardwareProfile,
  type HardwareProfile,
} from "../../src/parallel/planner/index.js";
import { profileFromConfig } from "../../src/parallel/planner/model_profile.js";
import { singleProcessPlan } from "../../src/parallel/planner/space.js";
import { smallLlama, smallLlamaConfig, smallLlamaMeasurements } from "./small_llama.js";

// 4 ranks on 2 cores: a rank alone or with one other gets a whole core, twice its all-busy speed.
const speed: Array<[number, number]> = [
  [1, 2],
  [2, 2],
  [3, 4 / 3],
  [4, 1],
];
const twoCores: HardwareProfile = { ...hardwarePreset("cpu"), devicesPerNode: 4, sharedCores: { cores: 2, speed } };
const withTask = (h: HardwareProfile, pipelineTaskS: number): HardwareProfile => ({
  ...h,
  overhead: { perLayerS: 0, perStepS: 0, pipelineTaskS },
});

test("the pipeline executor's per-task work runs in the simulated schedule at the shared cores' speed", () => {
  const problem = (hardware: HardwareProfile) =>
    makeProblem(smallLlama, 4, { hardware, gpusPerNode: 4, seqLen: 128, globalBatch: 4, precision: "fp32" });
  // pp 2 × dp 2, one micro-batch: four tasks one after another (stage 0's forward, stage 1's forward
  // and backward, stage 0's backward), each stage's 2 ranks at speed(2) = 2: 4 · 4 ms / 2 = 8 ms more.
  const plan = singleProcessPlan({ dp: 2, pp: 2, microBatch: 2 });
  const step = (h: HardwareProfile) => evaluate(problem(h), plan).prediction.step;
  const without = step(withTask(twoCores, 0));
  const withIt = step(withTask(twoCores, 0.004));
  const span = (s: typeof without) => s.compute + s.recompute + s.bubble;
  assert.ok(Math.abs(span(withIt) - span(without) - 0.008) < 1e-12, `${span(withIt) - span(without)}`);
  const rest = (s: typeof without) => s.total - span(s);
  assert.ok(Math.abs(rest(withIt) - rest(without)) < 1e-12);
  // No shared cores (GPUs): nothing charged.
  const gpuLike = { ...twoCores, sharedCores: undefined };
  assert.deepEqual(step(withTask(gpuLike, 0.004)), step(withTask(gpuLike, 0)));
});

test("the calibration's pipelined step gives the per-task time at which the cost model predicts it", () => {
  const layer = { hidden: 256, ffn: 704, heads: 8, tokens: 128 };
  const raw = (seconds: number, shared = true) => ({
    ...smallLlamaMeasurements,
    framework: { oneLayer: 0.06, twoLayers: 0.11, layer },
    ...(shared ? { concurrency: { cores: 2, samples: speed.map(([busy, s]) => ({ busy, seconds: 0.02 / s })) } } : {}),
    // A layer on each of 2 stages, one micro-batch.
    pipeline: { stages: 2, microBatches: 1, seconds },
  });
  const base = { ...hardwarePreset("cpu"), devicesPerNode: 2 };
  const fit = (seconds: number, shared = true) => profileFromMeasurements(raw(seconds, shared), base, "2026-01-01T00:00:00Z");
  // Measured no slower than predicted: nothing to charge.
  const quick = fit(0);
  assert.equal(quick.overhead!.pipelineTaskS, 0);
  const model = profileFromConfig({ ...smallLlamaConfig, vocab_size: 64, num_hidden_layers: 2 }, "x");
  const problem = { model, gpus: 2, gpusPerNode: 2, seqLen: 128, globalBatch: 1, flashAttention: true, tpAcrossNodes: false };
  const predicted = predictStep({ ...problem, hardware: quick, precision: "fp32" }, singleProcessPlan({ pp: 2 })).step.total;
  // 10 ms slower than predicted: four tasks one after another, one rank each at speed(1) = 2, so
  // 4 · x / 2 = 10 ms, x = 5 ms.
  const slow = fit(predicted + 0.01);
  assert.ok(Math.abs(slow.overhead!.pipelineTaskS! - 0.005) < 1e-9, `${slow.overhead!.pipelineTaskS}`);
  assert.deepEqual(validateHardwareProfile(JSON.parse(JSON.stringify(slow))), slow);
  // Ranks that do not share cores: no pipeline charge fitted.
  assert.equal(fit(predicted + 0.01, false).overhead!.pipelineTaskS, undefined);
});

test("data-parallel replicas' per-step work: the calibration's replicated steps beyond their predictions, charged once per step", () => {
  const layer = { hidden: 256, ffn: 704, heads: 8, tokens: 128 };
  const base = { ...hardwarePreset("cpu"), devicesPerNode: 4 };
  const raw = (dataParallel: number, replicated: number) => ({
    ...smallLlamaMeasurements,
    framework: { oneLayer: 0.06, twoLayers: 0.11, layer },
    concurrency: { cores: 2, samples: speed.map(([busy, s]) => ({ busy, seconds: 0.02 / s })) },
    // Measured at no time: no per-task charge, so the replicated steps' predictions below are the fit's.
    pipeline: { stages: 4, microBatches: 4, seconds: 0 },
    // One layer data-parallel over 4 ranks; 2 replicas of a 2-stage pipeline of one layer per stage.
    dataParallel: { stages: 1, replicas: 4, microBatches: 1, seconds: dataParallel },
    replicatedPipeline: { stages: 2, replicas: 2, microBatches: 2, seconds: replicated },
  });
  const fit = (dp: number, rp: number) => profileFromMeasurements(raw(dp, rp), base, "2026-01-01T00:00:00Z");
  const quick = fit(0, 0);
  assert.deepEqual([quick.overhead!.pipelineTaskS, quick.overhead!.dataParallelStepS, quick.overhead!.replicaStepS], [0, 0, 0]);
  // The cost model's predictions of the two steps, with the narrow model of the calibration (vocabulary 64).
  const predicted = (layers: number, gpus: number, plan: Parameters<typeof singleProcessPlan>[0]) => {
    const model = profileFromConfig({ ...smallLlamaConfig, vocab_size: 64, num_hidden_layers: layers }, "x");
    const problem = { model, gpus, gpusPerNode: gpus, seqLen: 128, flashAttention: true, tpAcrossNodes: false, precision: "fp32" as const };
    return predictStep({ ...problem, globalBatch: 4, hardware: quick }, singleProcessPlan(plan)).step.total;
  };
  const dp = predicted(1, 4, { dp: 4 });
  const rp = predicted(2, 4, { dp: 2, pp: 2, gradAccum: 2 });
  const slow = fit(dp + 0.003, rp + 0.007);
  assert.ok(Math.abs(slow.overhead!.dataParallelStepS! - 0.003) < 1e-12, `${slow.overhead!.dataParallelStepS}`);
  assert.ok(Math.abs(slow.overhead!.replicaStepS! - 0.007) < 1e-12, `${slow.overhead!.replicaStepS}`);
  assert.deepEqual(validateHardwareProfile(JSON.parse(JSON.stringify(slow))), slow);
  // Charged once per step: to plain data parallelism the one, to a pipeline's replicas the other, to a
  // pipeline without replicas neither.
  const problem = (hardware: HardwareProfile) =>
    makeProblem(smallLlama, 4, { hardware, gpusPerNode: 4, seqLen: 128, globalBatch: 8, precision: "fp32" });
  const dpComm = (h: HardwareProfile, plan: Parameters<typeof singleProcessPlan>[0]) =>
    evaluate(problem(h), singleProcessPlan(plan)).prediction.step.dpComm;
  const none = { ...slow, overhead: { ...slow.overhead!, dataParallelStepS: 0, replicaStepS: 0 } };
  for (const zero of [0, 3] as const)
    assert.ok(Math.abs(dpComm(slow, { dp: 4, zero, microBatch: 2 }) - dpComm(none, { dp: 4, zero, microBatch: 2 }) - 0.003) < 1e-12);
  const replicas = { dp: 2, pp: 2, microBatch: 2, gradAccum: 2 };
  assert.ok(Math.abs(dpComm(slow, replicas) - dpComm(none, replicas) - 0.007) < 1e-12);
  const pipelineOnly = { pp: 4, microBatch: 2, gradAccum: 4 };
  assert.equal(dpComm(slow, pipelineOnly), dpComm(none, pipelineOnly));
});
