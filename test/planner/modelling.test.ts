// The issue-17 modelling rules: MLP shape from the activation, attention below peak, one overlap rule
// for ZeRO, context parallelism and FP8 as what-ifs.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  evaluate,
  hardwarePreset,
  makeProblem,
  modelPreset,
  parseFix,
  plan,
  profileFromConfig,
  resultJson,
  resultText,
  totalParams,
} from "../../src/parallel/planner/index.js";
import { layerActivations } from "../../src/parallel/planner/activations.js";
import { exposed, predictStep } from "../../src/parallel/planner/cost.js";
import { singleProcessPlan, type Plan } from "../../src/parallel/planner/space.js";

const nemotron15b = {
  model_type: "nemotron",
  hidden_size: 6144,
  intermediate_size: 24576,
  num_attention_heads: 48,
  num_key_value_heads: 8,
  num_hidden_layers: 32,
  vocab_size: 256000,
  hidden_act: "relu2",
};

test("the activation decides the MLP: relu2 / squared_relu / gelu plain (2 matrices), gated families and GLU names 3, unknown refused", () => {
  const [h, f, L, V, kv] = [6144, 24576, 32, 256000, 1024];
  const n = profileFromConfig(nemotron15b, "nemotron-4-15b");
  assert.deepEqual([n.mlp, n.activation], ["plain", "relu2"]);
  // Nemotron-4 15B: 15.6 B parameters (2 MLP matrices), not 20.5 B.
  assert.equal(totalParams(n), L * (h * (h + 2 * kv) + h * h + 2 * h * f + 2 * h) + 2 * V * h + h);
  assert.ok(Math.abs(totalParams(n) / 15.6e9 - 1) < 0.01, String(totalParams(n)));
  assert.equal(profileFromConfig({ ...nemotron15b, hidden_act: "squared_relu" }).mlp, "plain");
  assert.equal(
    profileFromConfig({
      model_type: "gpt2",
      n_embd: 64,
      n_head: 4,
      n_layer: 2,
      vocab_size: 100,
      n_positions: 32,
      activation_function: "relu",
    }).mlp,
    "plain",
  );
  // HF's LlamaMLP is gated whatever hidden_act says; a GLU name is gated in any family.
  const llama = {
    model_type: "llama",
    hidden_size: 64,
    intermediate_size: 128,
    num_attention_heads: 4,
    num_hidden_layers: 2,
    vocab_size: 100,
  };
  assert.equal(profileFromConfig({ ...llama, hidden_act: "gelu" }).mlp, "gated");
  assert.equal(profileFromConfig({ ...nemotron15b, hidden_act: "swiglu" }).mlp, "gated");
  assert.throws(
    () => profileFromConfig({ ...llama, hidden_act: "swishy" }),
    /config.json: unknown 'hidden_act' "swishy" \(known: swiglu, geglu, reglu, silu/,
  );
});

test("attention is never credited above peak: executed FLOP/s ≤ the device's, MFU < the GEMM ceiling at 64K tokens", () => {
  const problem = makeProblem(modelPreset("llama-2-7b"), 8, { seqLen: 65536, globalBatch: 8 });
  const r = plan(problem, parseFix("cp=8,tp=1"));
  assert.ok(r.best !== undefined);
  const p = r.best.prediction;
  assert.ok(p.hardwareFlopsPerStep / p.step.total / 8 <= problem.hardware.peakFlops);
  // Long causal attention runs at the attention kernels' efficiency: MFU stays below it and the GEMMs'.
  assert.ok(p.mfu < problem.hardware.gemm.maxEfficiency && p.mfu < 0.6, `MFU ${p.mfu}`);
  // Model FLOPs count the causal half once: MFU · time · peak · gpus = 6N + 6·L·q·s per token.
  const fused = evaluate(makeProblem(modelPreset("llama-2-7b"), 8, { seqLen: 4096, globalBatch: 8 }), r.best.plan);
  assert.ok(fused.prediction.mfu < (fused.prediction.tflopsPerGpu * 1e12) / 989e12 + 1e-9);
});

const base: Plan = singleProcessPlan({ dp: 16, gradAccum: 4, zero: 1 });

test("ZeRO-1/2/3 communication follows one overlap rule: exposed = max(comm − window, comm/layers), the hidden rest slowing compute by NCCL's SM share", () => {
  const share = 16 / 132;
  assert.ok(Math.abs(exposed(10, 4, 5) - (6 + share * 4)) < 1e-12);
  assert.ok(Math.abs(exposed(10, 40, 5) - (2 + share * 8)) < 1e-12);
  assert.equal(exposed(0, 4, 5), 0);
  const problem = makeProblem(modelPreset("llama-2-7b"), 16, { gpusPerNode: 8, seqLen: 4096, globalBatch: 64 });
  // Every stage's exposed ZeRO time is below its raw collective time (nothing is charged fully
  // exposed) and above the last layer's share (nothing is free).
  for (const zero of [1, 2, 3] as const) {
    const step = predictStep(problem, { ...base, zero }).step;
    assert.ok(step.dpComm > 0, `zero ${zero}`);
  }
  // A larger micro-batch (a longer compute window) hides more of ZeRO-3's per-micro-batch collectives.
  const z3 = (microBatch: number) =>
    predictStep(problem, { ...base, zero: 3, microBatch, gradAccum: 4 / microBatch }).step.dpComm / (4 / microBatch);
  assert.ok(z3(4) < 4 * z3(1));
});

test("context parallelism: a --fix what-if, marked as not executed; the free search never chooses it", () => {
  const problem = makeProblem(modelPreset("llama-3-8b"), 16, { gpusPerNode: 8, seqLen: 32768, globalBatch: 16 });
  const free = plan(problem);
  assert.equal(free.best?.plan.cp, 1);
  const cp = plan(problem, parseFix("cp=4"));
  assert.ok(cp.best !== undefined && cp.best.plan.cp === 4);
  assert.equal(cp.best.plan.dp * cp.best.plan.tp * cp.best.plan.pp * 4, 16);
  // cp splits each sequence: less activation memory than the same layout without it.
  const nocp = evaluate(problem, { ...cp.best.plan, cp: 1, dp: cp.best.plan.dp * 4, gradAccum: cp.best.plan.gradAccum / 4 });
  assert.ok(cp.best.memory.activations < nocp.memory.activations);
  assert.ok(cp.best.prediction.step.cpComm >= 0);
  const json = resultJson(problem, cp) as { plan: { cp?: number }; not_executed_by_runtime: string[] };
  assert.equal(json.plan.cp, 4);
  assert.deepEqual(json.not_executed_by_runtime, ["cp=4 (context parallelism)"]);
  assert.match(resultText(problem, cp), /what-if: cp=4 \(context parallelism\) not executed by the runtime/);
  // Unfused attention cannot ring: the rule is named.
  assert.match(
    plan({ ...problem, flashAttention: false }, parseFix("cp=2")).invalid?.rule ?? "",
    /context parallelism needs fused attention/,
  );
});

test("fp8 matmuls: faster GEMMs on H100, marked not executed; refused on hardware without FP8", () => {
  const model = modelPreset("llama-2-7b");
  const bf16 = plan(makeProblem(model, 8, { seqLen: 4096, globalBatch: 64 }), parseFix("tp=1,pp=1,mbs=1,zero=1"));
  const fp8Problem = makeProblem(model, 8, { seqLen: 4096, globalBatch: 64, precision: "fp8" });
  const fp8 = plan(fp8Problem, parseFix("tp=1,pp=1,mbs=1,zero=1"));
  assert.ok(bf16.best !== undefined && fp8.best !== undefined);
  const speedup = bf16.best.prediction.step.total / fp8.best.prediction.step.total;
  assert.ok(speedup > 1.2 && speedup < 2, `fp8 speedup ${speedup}`);
  assert.deepEqual((resultJson(fp8Problem, fp8) as { not_executed_by_runtime: string[] }).not_executed_by_runtime, ["fp8 matmuls"]);
  // Transformer Engine's storage: FP8 GEMM inputs and a fused gated activation (gate, up, FP8 output).
  const shape = { seq: 4096, microBatch: 1, tp: 1, sequenceParallel: false, flashAttention: true, selective: false, elementBytes: 2 };
  const [h, f, q, kv] = [4096, 11008, 4096, 4096];
  assert.equal(layerActivations(model, shape).total, 4096 * (4 * 2 * h + 2 * (q + 2 * kv) + 2 * q + 4 * 2 * f));
  assert.equal(
    layerActivations(model, { ...shape, fp8: true }).total,
    4096 * ((2 * 2 + 2 * 1) * h + 2 * (q + 2 * kv) + 1 * q + (2 * 2 + 1) * f),
  );
  const a100 = plan(makeProblem(model, 8, { hardware: hardwarePreset("a100-80gb"), precision: "fp8" }));
  assert.equal(a100.best, undefined);
  assert.deepEqual(a100.invalid, {
    rule: "fp8 matmuls need FP8 tensor cores",
    reason: "A100-80GB has none in its profile (H100, H200 do)",
  });
});
