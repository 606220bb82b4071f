// CPU ranks sharing a machine's cores: the calibration's speed curve, and the step model's use of it
// (src/parallel/planner/cost.ts, sharedCoreScale; pipeline_sim.ts). Values by hand.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  evaluate,
  hardwarePreset,
  makeProblem,
  profileFromMeasurements,
  validateHardwareProfile,
  type HardwareProfile,
  type Plan,
} from "../../src/parallel/planner/index.js";
import { singleProcessPlan } from "../../src/parallel/planner/space.js";
import { smallLlama } from "./small_llama.js";

// 4 ranks on 2 cores: a rank alone or with one other gets a whole core, twice its all-busy speed.
const twoCores: HardwareProfile = {
  ...hardwarePreset("cpu"),
  devicesPerNode: 4,
  sharedCores: {
    cores: 2,
    speed: [
      [1, 2],
      [2, 2],
      [3, 4 / 3],
      [4, 1],
    ],
  },
};

const plan = (p: Partial<Plan>): Plan => singleProcessPlan({ dp: 4, microBatch: 2, ...p });

test("the calibration's concurrency samples become a rank's speed relative to all ranks busy", () => {
  const raw = {
    device: "cpu test",
    software: "t",
    gemm: [64, 128].map((n) => ({ m: 128, n, k: 256, seconds: (2 * 128 * n * 256) / 1e10 })),
    attention: [],
    memoryCopy: { bytes: 1e8, seconds: 0.01 },
    collectives: [],
    concurrency: {
      cores: 2,
      samples: [
        { busy: 4, seconds: 0.02 },
        { busy: 1, seconds: 0.01 },
        { busy: 2, seconds: 0.01 },
        { busy: 3, seconds: 0.015 },
      ],
    },
  };
  const p = profileFromMeasurements(raw, { ...hardwarePreset("cpu"), devicesPerNode: 4 }, "2026-01-01T00:00:00Z");
  assert.deepEqual(p.sharedCores, {
    cores: 2,
    speed: [
      [1, 2],
      [2, 2],
      [3, 0.02 / 0.015],
      [4, 1],
    ],
  });
  assert.deepEqual(validateHardwareProfile(JSON.parse(JSON.stringify(p))), p);
  assert.throws(
    () => validateHardwareProfile({ ...JSON.parse(JSON.stringify(p)), sharedCores: { cores: 2, speed: [[1, -1]] } }),
    /sharedCores\.speed/,
  );
});

test("a pipeline on shared cores: while one stage's ranks compute alone they run at their speed alone", () => {
  const problem = (hardware: HardwareProfile) =>
    makeProblem(smallLlama, 4, { hardware, gpusPerNode: 4, seqLen: 128, globalBatch: 4, precision: "fp32" });
  // pp 2 × dp 2, one micro-batch: the two stages never compute at once, so each stage's 2 ranks run
  // at speed(2) = 2 throughout (pipeline_sim.ts); the sends, which the all-busy bubble counts
  // beside the first stage's compute, take their own time once (ppComm), not halved.
  const p = plan({ dp: 2, pp: 2, microBatch: 2 });
  const alone = evaluate(problem({ ...twoCores, sharedCores: undefined }), p).prediction.step;
  const shared = evaluate(problem(twoCores), p).prediction.step;
  const span = (s: typeof alone) => s.compute + s.recompute + s.bubble;
  const work = span(alone) - alone.ppComm;
  assert.ok(alone.ppComm > 0);
  assert.ok(Math.abs(span(shared) - work / 2) <= 1e-12 * work, `${span(shared)} vs ${work / 2}`);
  assert.equal(shared.ppComm, alone.ppComm);
  assert.equal(shared.optimizer, alone.optimizer);
});

test("every rank busy throughout (no pipeline) or ranks over several machines: the compute span is unchanged", () => {
  const make = (hardware: HardwareProfile, gpus = 4, gpusPerNode = 4) =>
    makeProblem(smallLlama, gpus, { hardware, gpusPerNode, seqLen: 128, globalBatch: 8, precision: "fp32" });
  const span = (h: HardwareProfile, p: Plan, gpus?: number, perNode?: number) => {
    const s = evaluate(make(h, gpus, perNode), p).prediction.step;
    return [s.compute, s.recompute, s.bubble];
  };
  const unshared = { ...twoCores, sharedCores: undefined };
  assert.deepEqual(span(twoCores, plan({})), span(unshared, plan({})));
  const pp = plan({ dp: 4, pp: 2, microBatch: 2, gradAccum: 1 });
  assert.deepEqual(span(twoCores, pp, 8, 4), span(unshared, pp, 8, 4));
});

test("ranks sharing cores hide no data-parallel communication: Gloo's collectives run on the cores compute needs", () => {
  const make = (hardware: HardwareProfile) =>
    makeProblem(smallLlama, 4, { hardware, gpusPerNode: 4, seqLen: 128, globalBatch: 8, precision: "fp32" });
  const p = plan({ zero: 0 });
  const shared = evaluate(make(twoCores), p).prediction.step;
  const gpuLike = evaluate(make({ ...twoCores, sharedCores: undefined }), p).prediction.step;
  // ZeRO-0: one all-reduce of the fp32 gradients over 4 ranks, all of it on the step.
  const params = 4096 * 256 * 2 + 4 * (4 * 256 * 256 + 3 * 256 * 704 + 2 * 256) + 256;
  const link = twoCores.intraNode;
  const allReduce = 2 * (2 * link.latencyS + (3 / 4) * ((4 * params) / link.bandwidthBytesPerS));
  assert.ok(Math.abs(shared.dpComm - allReduce) <= 1e-12 * allReduce, `${shared.dpComm} vs ${allReduce}`);
  assert.ok(gpuLike.dpComm < shared.dpComm);
});
