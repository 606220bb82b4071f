// Precision (bf16-mixed vs fp32) in the memory and cost model, and hybrid sharding (ZeRO inside a node,
// replicas across nodes): hand-computed bytes, the node-local shard degree, where the search tries it.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { test } from "node:test";
import { collectiveTime, type Collective } from "../../src/parallel/planner/collectives.js";
import type { LinkProfile } from "../../src/parallel/planner/hardware.js";
import { singleProcessPlan } from "../../src/parallel/planner/space.js";
import {
  hardwarePreset,
  layerParams,
  makeProblem,
  megatronGpt,
  memoryPerGpu,
  modelStateBytesPerParam,
  nodeLocalDp,
  parseFix,
  plan,
  predictStep,
  totalParams,
  zeroShardDegree,
  type HardwareProfile,
  type Plan,
  type ZeroStage,
} from "../../src/parallel/planner/index.js";
import { collectiveLink, stageParams } from "../../src/parallel/planner/layout.js";
import { forEachShape, type Shape } from "../../src/parallel/planner/space.js";
import { repoRoot } from "./reference.js";

const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= 1e-9 * Math.abs(expected), `${what}: ${actual} ≠ ${expected}`);
const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);

test("fp32 model states: weights 4, gradients 4, Adam m + v 8, sharded by ZeRO stage; bf16-mixed unchanged", () => {
  for (const d of [1, 2, 8, 64]) {
    close(sum(modelStateBytesPerParam(0, d, "fp32")), 16, "stage 0");
    close(sum(modelStateBytesPerParam(1, d, "fp32")), 8 + 8 / d, "stage 1");
    close(sum(modelStateBytesPerParam(2, d, "fp32")), 4 + 12 / d, "stage 2");
    close(sum(modelStateBytesPerParam(3, d, "fp32")), 16 / d, "stage 3");
    assert.deepEqual(modelStateBytesPerParam(1, d, "fp32"), { weights: 4, gradients: 4, optimizer: 8 / d });
    assert.deepEqual(modelStateBytesPerParam(2, d, "bf16-mixed"), modelStateBytesPerParam(2, d));
  }
  assert.deepEqual(modelStateBytesPerParam(3, 4), { weights: 0.5, gradients: 0.5, optimizer: 3 });
});

// A GPT-2-style model small enough to count by hand: h 64, 4 heads, 2 layers, vocab 128, 16 positions.
const tiny = megatronGpt({ layers: 2, hidden: 64, heads: 4, vocab: 128, seq: 16 });
const P = 2 * (12 * 64 * 64 + 13 * 64) + (128 + 16) * 64 + 2 * 64; // 12h² + 13h per layer, embeddings, final norm
const base: Plan = singleProcessPlan({ dp: 2 });

test("fp32 memory at each ZeRO stage, by hand", () => {
  assert.equal(totalParams(tiny), P);
  assert.equal(P, 109_312);
  assert.ok(tiny.dropout && tiny.tiedEmbeddings && tiny.ffn === 256);
  const hardware = hardwarePreset("h100-sxm-80gb");
  const problem = makeProblem(tiny, 2, { hardware, gpusPerNode: 2, seqLen: 16, globalBatch: 2, precision: "fp32" });
  // Per layer (s 16, b 1, h 64, fused attention): norm/QKV/MLP inputs 4 × 4sbh, two 1-byte dropout
  // masks 2sbh, Q, K, V, attention output 4·4sbh, GELU input and output 2 × 4·s·b·4h: 66 sbh (bf16: 34).
  const sbh = 16 * 64;
  const activations = 2 * (16 * sbh + 2 * sbh + 16 * sbh + 32 * sbh);
  assert.equal(activations, 2 * 66 * sbh);
  const logits = 16 * 128 * 12; // fp32 logits, fp32 softmax, fp32 gradient
  const gathered = 2 * (12 * 64 * 64 + 13 * 64) * 8; // ZeRO-3: two layers' weights and gradients, 4 + 4 bytes
  const expected: Record<ZeroStage, { weights: number; gradients: number; optimizer: number; buffers: number }> = {
    0: { weights: 4 * P, gradients: 4 * P, optimizer: 8 * P, buffers: logits },
    1: { weights: 4 * P, gradients: 4 * P, optimizer: 4 * P, buffers: logits },
    2: { weights: 4 * P, gradients: 2 * P, optimizer: 4 * P, buffers: logits },
    3: { weights: 2 * P, gradients: 2 * P, optimizer: 4 * P, buffers: logits + gathered },
  };
  for (const zero of [0, 1, 2, 3] as const) {
    const m = memoryPerGpu(problem, { ...base, zero });
    const e = expected[zero];
    for (const key of ["weights", "gradients", "optimizer", "buffers"] as const) close(m[key], e[key], `zero ${zero} ${key}`);
    close(m.activations, activations, `zero ${zero} activations`);
    close(m.fragmentation, 0.1 * (activations + e.buffers), `zero ${zero} fragmentation`);
    close(
      m.total,
      e.weights + e.gradients + e.optimizer + activations + e.buffers + 0.1 * (activations + e.buffers) + hardware.reservedBytes,
      `zero ${zero} total`,
    );
    assert.equal(m.host, 0);
  }
  // Offload: CPU Adam's fp32 weights, m, v and gradients, 16 bytes per parameter of the ZeRO shard; in
  // fp32 the offloaded parameters are those weights, under bf16-mixed a bf16 copy (2 bytes) is added.
  const offloaded = memoryPerGpu(problem, { ...base, zero: 3, offload: "optimizer+params" });
  assert.deepEqual([offloaded.weights, offloaded.gradients, offloaded.optimizer], [0, 0, 0]);
  close(offloaded.host, (16 * P) / 2, "fp32 host");
  close(
    memoryPerGpu({ ...problem, precision: "bf16-mixed" }, { ...base, zero: 3, offload: "optimizer+params" }).host,
    (18 * P) / 2,
    "bf16 host",
  );
  // bf16-mixed on the same plan: the existing model (16 bytes of states, 34 sbh per layer, 8-byte logits).
  const bf16 = memoryPerGpu({ ...problem, precision: "bf16-mixed" }, base);
  assert.deepEqual(
    [bf16.weights, bf16.gradients, bf16.optimizer, bf16.activations, bf16.buffers],
    [2 * P, 2 * P, 12 * P, 2 * 34 * sbh, 16 * 128 * 8],
  );
  assert.deepEqual(memoryPerGpu(makeProblem(tiny, 2, { hardware, gpusPerNode: 2, seqLen: 16, globalBatch: 2 }), base), bf16);
});

test("the node-local shard degree: DP ranks that share a node, in whole groups", () => {
  assert.equal(nodeLocalDp({ gpusPerNode: 8 }, { dp: 16, tp: 1 }), 8);
  assert.equal(nodeLocalDp({ gpusPerNode: 8 }, { dp: 8, tp: 2 }), 4);
  assert.equal(nodeLocalDp({ gpusPerNode: 8 }, { dp: 4, tp: 2 }), 4);
  assert.equal(nodeLocalDp({ gpusPerNode: 8 }, { dp: 2, tp: 8 }), 1);
  assert.equal(nodeLocalDp({ gpusPerNode: 8 }, { dp: 12, tp: 1 }), 4); // 12 ranks: groups of 4 never straddle a node
  assert.equal(nodeLocalDp({ gpusPerNode: 6 }, { dp: 4, tp: 4 }), 1);
  assert.equal(zeroShardDegree({ gpusPerNode: 8 }, { dp: 16, tp: 1, hybridShard: false, cp: 1 }), 16);
  assert.equal(zeroShardDegree({ gpusPerNode: 8 }, { dp: 16, tp: 2, hybridShard: true }), 4);
});

const model = megatronGpt({ layers: 24, hidden: 2048, heads: 16, vocab: 51200, seq: 2048 });
const modelParams = totalParams(model);

test("hybrid sharding shards model states over the node, not the whole DP group", () => {
  const problem = makeProblem(model, 32, { gpusPerNode: 8, seqLen: 2048, globalBatch: 64 });
  const plain: Plan = { ...base, dp: 32, gradAccum: 2, zero: 3 };
  const hybrid: Plan = { ...plain, hybridShard: true };
  close(memoryPerGpu(problem, plain).weights, (2 * modelParams) / 32, "plain weights");
  const h = memoryPerGpu(problem, hybrid);
  close(h.weights, (2 * modelParams) / 8, "hybrid weights");
  close(h.gradients, (2 * modelParams) / 8, "hybrid gradients");
  close(h.optimizer, (12 * modelParams) / 8, "hybrid optimizer");
  // tp 2: a node holds 4 ranks of each DP group; fp32 ZeRO-1 shards Adam's 8 bytes over them.
  const z1: Plan = { ...hybrid, tp: 2, dp: 16, zero: 1, gradAccum: 4 };
  const rankParams = stageParams(model, z1).first;
  const m = memoryPerGpu({ ...problem, precision: "fp32" }, z1);
  close(m.optimizer, (8 * rankParams) / 4, "fp32 ZeRO-1 hybrid optimizer");
  close(m.weights + m.gradients, 8 * rankParams, "fp32 ZeRO-1 weights and gradients");
});

/** Hardware whose compute takes no time: every collective is exposed, so DP time is exactly the sum. */
function commOnly(): HardwareProfile {
  const h = hardwarePreset("h100-sxm-80gb");
  return { ...h, peakFlops: 1e40, memoryBandwidthBytesPerS: 1e40 };
}

test("hybrid cost: ZeRO collectives on NVLink over the node, a gradient all-reduce across nodes", () => {
  const hardware = commOnly();
  const { intraNode, interNode } = hardware;
  for (const precision of ["bf16-mixed", "fp32"] as const) {
    const problem = makeProblem(model, 16, { hardware, gpusPerNode: 8, seqLen: 2048, globalBatch: 32, precision });
    // Gradients are reduced in fp32 (the masters' dtype), weights gathered in the compute dtype.
    const grads = 4 * modelParams;
    const weights = (precision === "fp32" ? 4 : 2) * modelParams;
    const layerWeights = (precision === "fp32" ? 4 : 2) * 24 * layerParams(model).total;
    // tessera's flat units: one message per unit (24 layers and the root), each paying the latency.
    const units = (kind: Collective, bytes: number, n: number, link: LinkProfile, parts = 25): number =>
      parts * collectiveTime(kind, bytes / parts, n, link);
    // ZeRO-1 keeps the whole reduced gradient: an all-reduce over the node, then across nodes.
    const z1: Plan = { ...base, dp: 16, gradAccum: 2, zero: 1, hybridShard: true };
    close(
      predictStep(problem, z1).step.dpComm,
      units("all_reduce", grads, 8, intraNode) + units("all_reduce", grads, 2, interNode) + units("all_gather", weights, 8, intraNode),
      `${precision} ZeRO-1`,
    );
    // ZeRO-3: the layers are gathered again for backward (the embedding stays from forward: 24 units); the shard is all-reduced across nodes.
    const z3: Plan = { ...z1, zero: 3 };
    const perMicroBatch =
      units("all_gather", weights, 8, intraNode) +
      units("all_gather", layerWeights, 8, intraNode, 24) +
      units("reduce_scatter", grads, 8, intraNode);
    close(predictStep(problem, z3).step.dpComm, 2 * perMicroBatch + units("all_reduce", grads / 8, 2, interNode), `${precision} ZeRO-3`);
    // Without hybrid sharding the same collectives span both nodes, on all 8 NICs of each (8 members per node).
    const acrossNodes = collectiveLink(problem, 1, 16);
    assert.equal(acrossNodes.bandwidthBytesPerS, Math.min(intraNode.bandwidthBytesPerS, 8 * interNode.bandwidthBytesPerS));
    close(
      predictStep(problem, { ...z1, hybridShard: false, cp: 1 }).step.dpComm,
      units("all_reduce", grads, 16, acrossNodes) + units("all_gather", weights, 16, acrossNodes),
      `${precision} plain ZeRO-1`,
    );
  }
});

function shapes(gpus: number, fixed = {}): Shape[] {
  const out: Shape[] = [];
  forEachShape(makeProblem(model, gpus, { gpusPerNode: 8, seqLen: 2048, globalBatch: 64 }), fixed, (s) => out.push(s));
  return out;
}

test("the search tries hybrid sharding only with ZeRO over a DP group that spans nodes", () => {
  assert.ok(
    shapes(8).every((s) => !s.hybridShard),
    "one node: never hybrid",
  );
  const two = shapes(16);
  const hybrid = two.filter((s) => s.hybridShard);
  assert.ok(hybrid.length > 0);
  for (const s of hybrid) {
    const local = nodeLocalDp({ gpusPerNode: 8 }, s);
    assert.ok(s.zero >= 1 && local > 1 && local < s.dp, JSON.stringify(s));
    assert.ok(
      two.some((t) => !t.hybridShard && JSON.stringify({ ...t, hybridShard: true }) === JSON.stringify(s)),
      "its plain twin is visited too",
    );
  }
  // Where the DP group stays in a node (tp·dp ≤ 8) or ZeRO is off, only the plain plan.
  assert.ok(two.filter((s) => s.zero === 0 || s.tp * s.dp <= 8).every((s) => !s.hybridShard));
  assert.ok(shapes(16, { hybridShard: false }).every((s) => !s.hybridShard));
  assert.ok(shapes(16, { hybridShard: true }).every((s) => s.hybridShard));
});

test("--fix hybrid_shard / hsdp, and why a fixed hybrid plan is invalid", () => {
  assert.deepEqual(parseFix("hybrid_shard=true,zero=3"), { hybridShard: true, zero: 3 });
  assert.deepEqual(parseFix("hsdp=false"), { hybridShard: false });
  assert.throws(() => parseFix("hsdp=yes"), /--fix hsdp=yes: expected true or false/);
  const one = makeProblem(model, 8, { gpusPerNode: 8, seqLen: 2048, globalBatch: 64 });
  assert.match(
    plan(one, parseFix("hsdp=true")).invalid?.reason ?? "",
    /hybrid_shard=true needs zero ≥ 1 and a data-parallel group that spans nodes of 8 GPUs/,
  );
  assert.match(
    plan(makeProblem(model, 16, { gpusPerNode: 8 }), parseFix("hsdp=true,zero=0")).invalid?.reason ?? "",
    /hybrid_shard=true needs zero ≥ 1/,
  );
  const r = plan(makeProblem(model, 16, { gpusPerNode: 8, seqLen: 2048, globalBatch: 64 }), parseFix("hsdp=true,zero=3"));
  assert.ok(r.best !== undefined && r.best.plan.hybridShard && r.best.plan.zero === 3);
});

function tessera(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [resolve(repoRoot, "bin/tessera.mjs"), "plan", ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("tessera plan --precision fp32 --fix hsdp=true prints hybrid_shard in the plan", () => {
  const r = tessera("--model", "llama-2-7b", "--gpus", "16", "--precision", "fp32", "--fix", "hsdp=true,zero=3", "--json");
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.precision, "fp32");
  assert.equal(out.plan.hybrid_shard, true);
  assert.equal(out.alternatives[0].plan.hybrid_shard, true);
  const bad = tessera("--model", "llama-2-7b", "--gpus", "8", "--precision", "fp16");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--precision fp16: expected bf16-mixed, fp32 or fp8/);
});
