import assert from "node:assert/strict";
import { test } from "node:test";
import { layerActivations, checkpointBytes } from "../../src/parallel/planner/activations.js";
import { inFlightMicroBatches } from "../../src/parallel/planner/memory.js";
import {
  makeProblem,
  megatronGpt,
  memoryPerGpu,
  modelStateBytesPerParam,
  FRAGMENTATION_MARGIN,
  hardwarePreset,
  type Plan,
} from "../../src/parallel/planner/index.js";
import { stageParams } from "../../src/parallel/planner/layout.js";
import { singleProcessPlan } from "../../src/parallel/planner/space.js";

const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= 1e-9 * Math.abs(expected), `${what}: ${actual} ≠ ${expected}`);

test("model-state bytes per parameter are the ZeRO paper's: 16, 4 + 12/d, 2 + 14/d, 16/d", () => {
  for (const d of [1, 2, 8, 64]) {
    const sum = (z: 0 | 1 | 2 | 3) => Object.values(modelStateBytesPerParam(z, d)).reduce((a, b) => a + b, 0);
    close(sum(0), 16, "stage 0");
    close(sum(1), 4 + 12 / d, "stage 1");
    close(sum(2), 2 + 14 / d, "stage 2");
    close(sum(3), 16 / d, "stage 3");
  }
  // ZeRO paper's example: 7.5B parameters on 64 GPUs: 120 GB, 31.4 GB, 16.6 GB, 1.9 GB.
  const psi = 7.5e9;
  const gb = (z: 0 | 1 | 2 | 3) => (psi * Object.values(modelStateBytesPerParam(z, 64)).reduce((a, b) => a + b, 0)) / 1e9;
  assert.deepEqual(
    [gb(0), gb(1), gb(2), gb(3)].map((x) => Math.round(x * 10) / 10),
    [120, 31.4, 16.6, 1.9],
  );
});

test("activations per layer are Korthikanti et al.'s formulas for a GPT layer", () => {
  const [s, b, h, a] = [2048, 4, 6144, 48];
  const m = megatronGpt({ layers: 40, hidden: h, heads: a, vocab: 51200, seq: s });
  const sbh = s * b * h;
  const shape = { seq: s, microBatch: b, flashAttention: false, selective: false };
  close(layerActivations(m, { ...shape, tp: 1, sequenceParallel: false }).total, sbh * (34 + (5 * a * s) / h), "no parallelism");
  close(layerActivations(m, { ...shape, tp: 8, sequenceParallel: false }).total, sbh * (10 + 24 / 8 + (5 * a * s) / (h * 8)), "TP");
  close(layerActivations(m, { ...shape, tp: 8, sequenceParallel: true }).total, (sbh / 8) * (34 + (5 * a * s) / h), "TP+SP");
  close(layerActivations(m, { ...shape, tp: 8, sequenceParallel: true, selective: true }).total, (34 * sbh) / 8, "TP+SP+selective");
  close(checkpointBytes(m, { seq: s, microBatch: b, tp: 8, sequenceParallel: false }), 2 * sbh, "full recompute");
  // Fused attention stores no s×s scores: the same as selective recompute.
  close(layerActivations(m, { ...shape, tp: 1, sequenceParallel: false, flashAttention: true }).total, 34 * sbh, "flash");
});

test("activations of SwiGLU/GQA layers without dropout", () => {
  const problem = makeProblem(megatronGpt({ layers: 2, hidden: 8, heads: 2, vocab: 16, seq: 4 }), 1);
  const llama = { ...problem.model, family: "llama" as const, mlp: "gated" as const, kvHeads: 1, headDim: 4, ffn: 20, dropout: false };
  const [s, b] = [4, 1];
  // Replicated: two norm inputs + QKV input + MLP input = 8sbh; Q 2sbq, K,V 2sb·kv each, attention
  // output 2sbq; SwiGLU gate, up, act(gate), product 8sbf.
  const expected = 8 * s * b * 8 + 2 * s * b * (8 + 4 + 4 + 8) + 8 * s * b * 20;
  close(
    layerActivations(llama, { seq: s, microBatch: b, tp: 1, sequenceParallel: false, flashAttention: true, selective: false }).total,
    expected,
    "llama layer",
  );
});

test("pipeline stages hold p micro-batches under 1F1B and p(1 + (p−1)/(pv)) interleaved", () => {
  assert.equal(inFlightMicroBatches({ pp: 4, vpp: 1, gradAccum: 32 }), 4);
  assert.equal(inFlightMicroBatches({ pp: 4, vpp: 2, gradAccum: 32 }), 4 * (1 + 3 / 8));
  assert.equal(inFlightMicroBatches({ pp: 8, vpp: 1, gradAccum: 3 }), 3);
});

test("peak memory adds states, in-flight activations, logits, margin and reserve", () => {
  const m = megatronGpt({ layers: 24, hidden: 2048, heads: 16, vocab: 1024, seq: 2048 }); // small vocab: the first stage peaks
  const hardware = hardwarePreset("a100-80gb");
  const problem = makeProblem(m, 8, { hardware, seqLen: 2048, globalBatch: 64, flashAttention: false });
  const plan: Plan = singleProcessPlan({
    dp: 2,
    tp: 2,
    pp: 2,
    microBatch: 2,
    gradAccum: 16,
    zero: 1,
    recompute: "full",
    recomputeLayers: 12,
    sequenceParallel: true,
  });
  const mem = memoryPerGpu(problem, plan);
  const sbh = 2048 * 2 * 2048;
  const params = stageParams(m, plan).first; // the first stage holds 2 micro-batches' checkpoints and the embedding
  const activations = (2 * 12 * (2 * sbh)) / 2 + (sbh / 2) * (34 + (5 * 16 * 2048) / 2048);
  close(mem.weights + mem.gradients + mem.optimizer, params * (4 + 12 / 2), "states");
  close(mem.activations, activations, "activations");
  close(mem.fragmentation, FRAGMENTATION_MARGIN * (mem.activations + mem.buffers), "margin");
  close(
    mem.total,
    mem.weights + mem.gradients + mem.optimizer + mem.activations + mem.buffers + mem.fragmentation + hardware.reservedBytes,
    "total",
  );
});
