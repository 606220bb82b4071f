import assert from "node:assert/strict";
import { test } from "node:test";
import { collectiveTime, p2pTime } from "../../src/parallel/planner/collectives.js";
import { hardwarePreset, makeProblem, megatronGpt, modelPreset, predictStep, type Plan } from "../../src/parallel/planner/index.js";
import { profileFromConfig } from "../../src/parallel/planner/model_profile.js";
import { singleProcessPlan } from "../../src/parallel/planner/space.js";

const close = (actual: number, expected: number, what: string, rel = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= rel * Math.abs(expected), `${what}: ${actual} ≠ ${expected}`);

const base: Plan = singleProcessPlan({ pp: 4, gradAccum: 12 });

test("the bubble is the other stages' time for one micro-batch (over v interleaved): (p−1)/m of the ideal on even stages", () => {
  const problem = makeProblem(modelPreset("llama-2-7b"), 4, { gpusPerNode: 8, seqLen: 2048, globalBatch: 12 });
  for (const [p, m] of [
    [4, 12],
    [2, 8],
    [8, 8],
  ] as const) {
    const step = predictStep({ ...problem, gpus: p, globalBatch: m }, { ...base, pp: p, gradAccum: m }).step;
    const twice = predictStep({ ...problem, gpus: p, globalBatch: 2 * m }, { ...base, pp: p, gradAccum: 2 * m }).step;
    close(twice.bubble, step.bubble, `the bubble does not grow with m (p=${p})`);
    const pipeline = step.compute + step.recompute + step.tpComm + step.ppComm;
    // 32 layers split evenly; the last stage also runs the output layer, so it sets the pace and
    // the others' fill and drain are a little under (p−1)/m of it (4 layers a stage at p = 8: 0.84 of it).
    const ratio = step.bubble / pipeline;
    assert.ok(ratio <= (p - 1) / m && ratio >= 0.8 * ((p - 1) / m), `p=${p} m=${m}: ${ratio} vs ${(p - 1) / m}`);
  }
  const v = 4;
  const step = predictStep(problem, { ...base, vpp: v }).step;
  const ratio = step.bubble / (step.compute + step.recompute + step.tpComm + step.ppComm);
  assert.ok(ratio <= 3 / (v * 12) && ratio >= 0.8 * (3 / (v * 12)), `interleaved: ${ratio} vs ${3 / (v * 12)}`);
});

test("collectives follow the alpha-beta ring model", () => {
  const link = { bandwidthBytesPerS: 100e9, latencyS: 10e-6 };
  close(collectiveTime("all_reduce", 1e9, 8, link), 2 * (7 / 8) * (1e9 / 100e9) + 2 * 3 * 10e-6, "all-reduce");
  close(collectiveTime("all_gather", 1e9, 16, link), (15 / 16) * (1e9 / 100e9) + 4 * 10e-6, "all-gather");
  close(collectiveTime("reduce_scatter", 1e9, 2, link), 0.5 * (1e9 / 100e9) + 10e-6, "reduce-scatter");
  assert.equal(collectiveTime("all_reduce", 1e9, 1, link), 0);
  close(p2pTime(1e6, link), 10e-6 + 1e-5, "p2p");
  // Measured bus bandwidth by group size takes precedence.
  const measured = {
    ...link,
    byGroupSize: [
      [2, 50e9],
      [8, 80e9],
    ] as Array<[number, number]>,
  };
  close(collectiveTime("all_reduce", 1e9, 4, measured), 2 * (3 / 4) * (1e9 / 50e9) + 2 * 2 * 10e-6, "by group size");
});

test("TP communication: 4 all-reduces of 2·b·s·h bytes per layer, 6 with full recompute, 2 for embedding and head, 3 per-token ones for the loss, on NVLink", () => {
  const m = megatronGpt({ layers: 8, hidden: 4096, heads: 32, vocab: 51200, seq: 2048 });
  const hardware = hardwarePreset("a100-80gb");
  const problem = makeProblem(m, 8, { hardware, seqLen: 2048, globalBatch: 4, flashAttention: false });
  const plan: Plan = { ...base, tp: 8, pp: 1, microBatch: 2, gradAccum: 2 };
  const allReduce = collectiveTime("all_reduce", 2 * 2 * 2048 * 4096, 8, hardware.intraNode);
  // The vocab-parallel loss: max, sum of exponentials and target logit, fp32, per predicted token.
  const loss = 3 * collectiveTime("all_reduce", 4 * 2 * 2047, 8, hardware.intraNode);
  close(predictStep(problem, plan).step.tpComm, 2 * ((8 * 4 + 2) * allReduce + loss), "no recompute");
  close(
    predictStep(problem, { ...plan, recompute: "full", recomputeLayers: 8 }).step.tpComm,
    2 * ((8 * 6 + 2) * allReduce + loss),
    "full recompute",
  );
});

test("executed FLOPs with full recompute equal Megatron's 96·B·s·l·h²(1 + s/6h + V/16lh); MFU counts 3 passes of the causal half of attention", () => {
  const [l, h, a, V, s, B] = [24, 2304, 24, 51200, 2048, 512];
  const problem = makeProblem(megatronGpt({ layers: l, hidden: h, heads: a, vocab: V, seq: s }), 32, {
    hardware: hardwarePreset("a100-80gb"),
    seqLen: s,
    globalBatch: B,
    flashAttention: false,
  });
  const plan: Plan = { ...base, dp: 32, pp: 1, microBatch: 16, gradAccum: 1, recompute: "full", recomputeLayers: l };
  const p = predictStep(problem, plan);
  close(p.hardwareFlopsPerStep, 96 * B * s * l * h * h * (1 + s / (6 * h) + V / (16 * l * h)), "Megatron FLOPs");
  // Model FLOPs: 72·B·s·l·h²(1 + s/6h + V/12lh) with the attention term halved (the causal triangle).
  const modelFlops = 72 * B * s * l * h * h * (1 + s / (12 * h) + V / (12 * l * h));
  close(p.mfu, modelFlops / p.step.total / 32 / 312e12, "MFU", 1e-6);
  close(p.tflopsPerGpu, p.hardwareFlopsPerStep / p.step.total / 32 / 1e12, "TFLOP/s", 1e-6);
});

test("fp8: Transformer Engine's dgrad and wgrad GEMMs run at the split accumulator's rate, fprop and recompute at the fast one", () => {
  // A Llama-2-7B-shaped layer (h 4096, 32 heads of 128, SwiGLU 11008) on one H100, 4096 tokens.
  const model = profileFromConfig(
    {
      model_type: "llama",
      vocab_size: 32000,
      hidden_size: 4096,
      intermediate_size: 11008,
      num_attention_heads: 32,
      num_key_value_heads: 32,
      num_hidden_layers: 2,
      tie_word_embeddings: false,
    },
    "llama-7b-shaped",
  );
  const h100 = hardwarePreset("h100");
  const plan = singleProcessPlan();
  const compute = (precision: "fp8" | "bf16-mixed", speed: number, recompute = false): number => {
    const hardware = { ...h100, fp8: { ...h100.fp8!, splitAccumulatorSpeed: speed } };
    const problem = makeProblem(model, 1, { hardware, seqLen: 4096, globalBatch: 1, precision });
    const p = recompute ? { ...plan, recompute: "full" as const, recomputeLayers: 2 } : plan;
    const step = predictStep(problem, p).step;
    return step.compute + step.recompute;
  };
  // One forward GEMM pass of a layer: 2 FLOPs per weight per token (QKV 3h², output h², gate, up and
  // down 3·h·ffn) at the FP8 peak × 0.68 × 4096/(4096 + 2·250).
  const flops = 4096 * 2 * (3 * 4096 * 4096 + 4096 * 4096 + 3 * 4096 * 11008);
  const forwardGemm = flops / (1979e12 * 0.68 * (4096 / (4096 + 500)));
  // Two backward GEMMs per forward GEMM, each (1/speed − 1) of it slower, in both layers.
  close(compute("fp8", 1 / 1.15) - compute("fp8", 1), 2 * 2 * 0.15 * forwardGemm, "split-accumulator time", 1e-6);
  // A recomputed forward is an fprop: nothing more.
  close(compute("fp8", 1 / 1.15, true) - compute("fp8", 1, true), 2 * 2 * 0.15 * forwardGemm, "with full recompute", 1e-6);
  // bf16 GEMMs have no such mode.
  assert.equal(compute("bf16-mixed", 1 / 1.15), compute("bf16-mixed", 1));
  assert.ok(Math.abs((h100.fp8!.splitAccumulatorSpeed ?? 0) - 1 / 1.15) < 1e-12);
});
