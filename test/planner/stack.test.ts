// A published result is evaluated with the stack that ran it (src/parallel/planner/stack.ts); tessera's
// own plans keep tessera's accounting. Values here are hand-computed from the stated rules.
import assert from "node:assert/strict";
import { test } from "node:test";
import { layerActivations } from "../../src/parallel/planner/activations.js";
import { collectiveTime } from "../../src/parallel/planner/collectives.js";
import { dataParallelMessages } from "../../src/parallel/planner/communication.js";
import { predictStep } from "../../src/parallel/planner/cost.js";
import { hardwarePreset, withNodeNetwork } from "../../src/parallel/planner/hardware.js";
import { rankLayerParams, stageParams } from "../../src/parallel/planner/layout.js";
import { logitBytes, memoryPerGpu } from "../../src/parallel/planner/memory.js";
import { makeProblem, megatronGpt, modelPreset } from "../../src/parallel/planner/index.js";
import { chunkLayers, megatronSplit } from "../../src/parallel/planner/stages.js";
import { singleProcessPlan } from "../../src/parallel/planner/space.js";

const close = (actual: number, expected: number, what: string, rel = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= rel * Math.abs(expected), `${what}: ${actual} ≠ ${expected}`);

const plan = singleProcessPlan;

test("Megatron's pipeline split: even, else the embedding and output layer count as a layer each", () => {
  // BLOOM (BigScience tr11 README): [embed | 5] [6] … [6] [5 | embed] over 12 stages.
  assert.deepEqual(megatronSplit(70, 12), [5, ...new Array<number>(10).fill(6), 5]);
  // Llama 3 405B: one layer fewer on the first and last of 16 stages; NeMo's PP 8 × VP 8: 1, 2 × 62, 1.
  assert.deepEqual(megatronSplit(126, 16), [7, ...new Array<number>(14).fill(8), 7]);
  assert.deepEqual(megatronSplit(126, 64), [1, ...new Array<number>(62).fill(2), 1]);
  assert.deepEqual(megatronSplit(80, 40), new Array<number>(40).fill(2));
  assert.deepEqual(megatronSplit(7, 3), [2, 3, 2]);
  assert.equal(megatronSplit(8, 3), null);
  // Neither rule divides: the balanced split (the runtime's) stands in.
  const m = megatronGpt({ layers: 8, hidden: 1024, heads: 16, vocab: 51200, seq: 2048 });
  assert.deepEqual(chunkLayers(m, { pp: 3, vpp: 1 }, "megatron"), chunkLayers(m, { pp: 3, vpp: 1 }));
  // The runtime's balanced split differs where the output layer's work counts (Llama 3 70B, 40 chunks).
  const llama70 = modelPreset("llama-3-70b");
  assert.notDeepEqual(chunkLayers(llama70, { pp: 8, vpp: 5 }), chunkLayers(llama70, { pp: 8, vpp: 5 }, "megatron"));
  assert.deepEqual(stageParams(llama70, { tp: 4, pp: 8, vpp: 5 }, "megatron").layers, new Array<number>(8).fill(10));
});

test("fused activations: a gated MLP keeps gate, up and the product (3 elements per MLP width), eager ops 4", () => {
  const m = modelPreset("llama-2-7b"); // h 4096, ffn 11008, 32 heads, no dropout
  const [s, b, t] = [4096, 1, 2];
  const shape = { seq: s, microBatch: b, tp: t, sequenceParallel: true, flashAttention: true, selective: false };
  const eager = layerActivations(m, shape);
  const fused = layerActivations(m, { ...shape, fusedGatedActivation: true });
  // bf16: one element of 2 bytes per MLP width and token fewer, split over TP.
  close(eager.total - fused.total, (2 * s * b * m.ffn) / t, "saved bytes");
  // Korthikanti's count for the rest: two norm inputs and two GEMM inputs (8sbh/t under SP), Q, K, V
  // and the attention output (8sbh/t), and gate, up, product (6·s·b·ffn/t).
  const sbh = s * b * m.hidden;
  close(fused.total, (8 * sbh) / t + (8 * sbh) / t + (6 * s * b * m.ffn) / t, "fused total");
});

test("tessera's plans keep the fragmentation margin; a published stack's formulas count live bytes", () => {
  const m = modelPreset("llama-2-7b");
  const p = plan({ dp: 8, zero: 1, gradAccum: 16 });
  const own = memoryPerGpu(makeProblem(m, 8, { hardware: hardwarePreset("h100"), seqLen: 4096, globalBatch: 128 }), p);
  const core = memoryPerGpu(
    makeProblem(m, 8, { hardware: hardwarePreset("h100"), seqLen: 4096, globalBatch: 128, stack: "megatron-core" }),
    p,
  );
  assert.ok(own.fragmentation > 0);
  assert.equal(core.fragmentation, 0);
  close(own.weights + own.gradients + own.optimizer, core.weights + core.gradients + core.optimizer, "model states");
  // A gated MLP's fourth element is what the fused kernels do not keep.
  close(own.activations - core.activations, 32 * 2 * 4096 * m.ffn, "activations");
});

test("DeepSpeed's BF16_Optimizer: 4 more bytes per parameter, and a 10-byte pass per micro-batch", () => {
  const m = megatronGpt({ layers: 8, hidden: 4096, heads: 32, vocab: 51200, seq: 2048 });
  const p = plan({ dp: 8, zero: 1, gradAccum: 4 });
  const base = { hardware: hardwarePreset("a100"), seqLen: 2048, globalBatch: 32 };
  const ds = makeProblem(m, 8, { ...base, stack: "megatron-deepspeed" });
  const lm = makeProblem(m, 8, { ...base, stack: "megatron-lm" });
  // Megatron-Core as NeMo runs it holds bf16 gradients, as DeepSpeed's engine does besides the buffer.
  const core = makeProblem(m, 8, { ...base, stack: "megatron-core" });
  const params = stageParams(m, p).first;
  close(memoryPerGpu(ds, p).gradients - memoryPerGpu(core, p).gradients, 4 * params, "fp32 buffer");
  close(
    predictStep(ds, p).step.optimizer - predictStep(lm, p).step.optimizer,
    (4 * 10 * params) / hardwarePreset("a100").memoryBandwidthBytesPerS,
    "accumulation passes",
  );
});

test("Megatron-LM's async TP backward: the column-parallel reduce-scatters and input re-gathers hide behind GEMMs", () => {
  const m = megatronGpt({ layers: 4, hidden: 6144, heads: 64, vocab: 51200, seq: 2048 });
  const p = plan({ tp: 8, sequenceParallel: true, gradAccum: 4 });
  const base = { hardware: hardwarePreset("a100"), seqLen: 2048, globalBatch: 4, flashAttention: false };
  const eager = predictStep(makeProblem(m, 8, base), p).step.tpComm;
  const megatron = predictStep(makeProblem(m, 8, { ...base, stack: "megatron-lm" }), p).step.tpComm;
  // Per layer and micro-batch: two reduce-scatters and the two input re-gathers of M = 2·s·b·h bytes
  // (both stacks re-gather, stack.ts spRegather) leave the critical path, and those four slow the
  // GEMMs beside them by 16/132; tessera's output layer also re-gathers its input, on the critical path.
  const bytes = 2 * 2048 * 6144;
  const link = hardwarePreset("a100").intraNode;
  const rs = collectiveTime("reduce_scatter", bytes, 8, link);
  const ag = collectiveTime("all_gather", bytes, 8, link);
  close(eager - megatron, 4 * 4 * (2 * rs + 2 * ag - (16 / 132) * (2 * rs + 2 * ag)) + 4 * ag, "hidden TP time", 1e-6);
  // tessera's own plans keep every collective on the critical path.
  assert.ok(megatron < eager);
});

test("a cluster's network per node: Jean Zay's 4 × 100 Gb/s Omni-Path shared by 8 A100s", () => {
  const jz = withNodeNetwork(hardwarePreset("a100-80gb"), 400);
  close(jz.interNode.bandwidthBytesPerS, (400e9 / 8) * 0.9 * (1 / 8), "per-GPU share");
  assert.equal(jz.intraNode, hardwarePreset("a100-80gb").intraNode);
});

test("Megatron-Core under fp8 keeps FP8 primary weights (1 byte) and TE's transpose; other stacks bf16 weights and TE's FP8 copy and transpose; none for the embedding", () => {
  const m = megatronGpt({ layers: 8, hidden: 4096, heads: 32, vocab: 51200, seq: 2048 });
  const p = plan({ dp: 4, tp: 2, sequenceParallel: true, zero: 1, gradAccum: 4 });
  const base = { hardware: hardwarePreset("h100"), seqLen: 2048, globalBatch: 16, precision: "fp8" as const };
  const core = makeProblem(m, 8, { ...base, stack: "megatron-core" });
  const lm = makeProblem(m, 8, { ...base, stack: "megatron-lm" });
  const params = stageParams(m, p).first;
  const layers = 8 * rankLayerParams(m, 2);
  const logits = (2048 * 1 * 51200 * logitBytes("fp8")) / 2;
  const [c, l] = [memoryPerGpu(core, p), memoryPerGpu(lm, p)];
  // bf16 weights, and 2 bytes (FP8 copy + transpose) per decoder-layer parameter, not per embedding row.
  close(l.weights, 2 * params, "bf16 weights");
  close(l.buffers, logits + 2 * layers, "TE's copy and transpose");
  // FP8 layer weights, the embedding in bf16, and the transpose alone.
  close(c.weights, 2 * (params - layers) + layers, "FP8 primary weights");
  close(c.buffers, logits + layers, "TE's transpose");
  close(l.gradients, 2 * c.gradients, "Megatron-LM's fp32 gradient buffer, Megatron-Core's bf16 one");
  // The distributed optimizer's parameter all-gather moves what is stored.
  close(dataParallelMessages(core, p).gather!.bytes, 2 * (params - layers) + layers, "FP8 all-gather");
  close(dataParallelMessages(lm, p).gather!.bytes, 2 * params, "bf16 all-gather");
});

test("the gradient reduction moves the bytes of the stack's reduce dtype: fp32 on tessera's executors, bf16 on Megatron-Core", () => {
  const m = megatronGpt({ layers: 8, hidden: 4096, heads: 32, vocab: 51200, seq: 2048 });
  const base = { hardware: hardwarePreset("h100"), seqLen: 2048, globalBatch: 64 };
  const p = plan({ dp: 8, gradAccum: 8 });
  const params = stageParams(m, p).first;
  const reduce = (problem: Parameters<typeof dataParallelMessages>[0]) => dataParallelMessages(problem, p).reduce!;
  // ZeRO-0: an all-reduce of every gradient over the 8 replicas (tessera: one message per flat unit,
  // the 8 layers and the root, since gradient accumulation runs on flat units).
  assert.deepEqual(reduce(makeProblem(m, 8, base)), { kind: "all_reduce", bytes: 4 * params, ranks: 8, group: "dp", parts: 9 });
  close(reduce(makeProblem(m, 8, { ...base, stack: "megatron-core" })).bytes, 2 * params, "bf16 on Megatron-Core");
  close(reduce(makeProblem(m, 8, { ...base, stack: "megatron-lm" })).bytes, 4 * params, "fp32 on Megatron-LM under --bf16");
  close(reduce(makeProblem(m, 8, { ...base, stack: "megatron-deepspeed" })).bytes, 2 * params, "DeepSpeed's bf16 communication_data_type");
  close(reduce(makeProblem(m, 8, { ...base, stack: "meta" })).bytes, 4 * params, "Llama 3: fp32");
  // A run that states its own dtype (llm-foundry's MP Mode PURE) overrides its stack's.
  close(reduce({ ...makeProblem(m, 8, { ...base, stack: "pytorch-fsdp" }), gradientReduce: "compute" }).bytes, 2 * params, "PURE");
  // Under fp32 both dtypes are 4 bytes.
  close(reduce(makeProblem(m, 8, { ...base, stack: "megatron-core", precision: "fp32" })).bytes, 4 * params, "fp32 precision");
});

test("ZeRO-1's gradient collective: tessera's flat units all-reduce, Megatron-Core's distributed optimizer reduce-scatters", () => {
  const m = megatronGpt({ layers: 8, hidden: 4096, heads: 32, vocab: 51200, seq: 2048 });
  const base = { hardware: hardwarePreset("h100"), seqLen: 2048, globalBatch: 128, gpusPerNode: 8 };
  const p = plan({ dp: 16, zero: 1, gradAccum: 8, hybridShard: true });
  const params = stageParams(m, p).first;
  const own = dataParallelMessages(makeProblem(m, 16, base), p);
  const core = dataParallelMessages(makeProblem(m, 16, { ...base, stack: "megatron-core" }), p);
  // Hybrid sharding over 2 nodes: the shard group is a node's 8 ranks, the replicas 2.
  // tessera's flat units issue one message each (8 layers and the root); Megatron-Core's counted as one.
  assert.deepEqual(own.reduce, { kind: "all_reduce", bytes: 4 * params, ranks: 8, group: "dp", parts: 9 });
  assert.deepEqual(own.replicas, { kind: "all_reduce", bytes: 4 * params, ranks: 2, group: "dp", parts: 9 });
  assert.deepEqual(core.reduce, { kind: "reduce_scatter", bytes: 2 * params, ranks: 8, group: "dp", parts: 1 });
  assert.deepEqual(core.replicas, { kind: "all_reduce", bytes: (2 * params) / 8, ranks: 2, group: "dp", parts: 1 });
  // The weights' all-gather after the step moves the same bytes on both (bf16 weights).
  assert.deepEqual(core.gather, { ...own.gather!, parts: 1 });
});

test("tessera's data-parallel collectives pay their latency per message: per flat unit, or per DDP bucket of 25 MiB", () => {
  const m = megatronGpt({ layers: 8, hidden: 1024, heads: 16, vocab: 51200, seq: 2048 });
  // Compute infinitely fast: no compute for the collectives to hide behind, all of their time counts.
  const hardware = { ...hardwarePreset("h100"), peakFlops: 1e40, memoryBandwidthBytesPerS: 1e40 };
  const problem = makeProblem(m, 4, { hardware, seqLen: 2048, globalBatch: 8, precision: "fp32" });
  const params = stageParams(m, plan({ dp: 4 })).first;
  const parts = (p: ReturnType<typeof plan>) => {
    const d = dataParallelMessages(problem, p);
    return [d.reduce?.parts, d.gather?.parts, d.backwardGather?.parts];
  };
  // fp32 ZeRO-0 without micro-batches runs DDP's Reducer: its gradients in 25 MiB buckets.
  assert.ok(4 * params > 25 * 2 ** 20);
  assert.deepEqual(parts(plan({ dp: 4 })), [Math.ceil((4 * params) / (25 * 2 ** 20)), undefined, undefined]);
  // Flat units (gradient accumulation, ZeRO >= 1): one message per unit, the 8 layers and the root;
  // ZeRO-3's backward gathers the layers' units only (the root stays gathered).
  assert.deepEqual(parts(plan({ dp: 4, gradAccum: 2 })), [9, undefined, undefined]);
  assert.deepEqual(parts(plan({ dp: 4, zero: 2 })), [9, 9, undefined]);
  assert.deepEqual(parts(plan({ dp: 4, zero: 3 })), [9, 9, 8]);
  // A pipeline stage's units: its layers and the root (the first stage's, the larger end: 6 of the 8
  // layers, the last stage also running the output layer and loss).
  const pp = plan({ dp: 2, pp: 2, gradAccum: 2 });
  assert.deepEqual(stageParams(m, pp).layers, [6, 2]);
  assert.deepEqual(parts(pp), [7, undefined, undefined]);
  // Each message pays the latency: the ZeRO-2 step's collectives cost 9 of a ninth of the bytes.
  const { intraNode } = problem.hardware;
  const grads = 4 * params;
  close(
    predictStep(problem, plan({ dp: 4, zero: 2 })).step.dpComm,
    9 * (collectiveTime("reduce_scatter", grads / 9, 4, intraNode) + collectiveTime("all_gather", grads / 9, 4, intraNode)),
    "ZeRO-2",
    1e-6,
  );
  // The published stacks' buckets are counted as one message.
  assert.equal(dataParallelMessages({ ...problem, stack: "megatron-core" }, plan({ dp: 4, zero: 2 })).reduce?.parts, 1);
});

test("an interleaved pipeline's sends hide behind chunks' compute on Megatron-Core (overlap_p2p_comm), not with one chunk per stage", () => {
  const m = megatronGpt({ layers: 32, hidden: 4096, heads: 32, vocab: 51200, seq: 4096 });
  const base = { hardware: hardwarePreset("h100"), seqLen: 4096, globalBatch: 64, gpusPerNode: 8 };
  const step = (stack: "megatron-core" | "megatron-lm", vpp: number) =>
    predictStep(makeProblem(m, 16, { ...base, stack }), plan({ dp: 4, pp: 4, vpp, gradAccum: 16 })).step.ppComm;
  // vpp 1: every transfer exposed on both stacks.
  close(step("megatron-core", 1), step("megatron-lm", 1), "one chunk per stage");
  // vpp 2: 2v = 4 transfers per micro-batch, each behind a chunk's compute (far longer than a send of
  // 4096 × 4096 bf16 values): one of the four stays exposed, the hidden three slow compute by 16/132.
  const ratio = 1 / 4 + (16 / 132) * (3 / 4);
  close(step("megatron-core", 2), ratio * step("megatron-lm", 2), "overlapped", 1e-9);
});

test("Megatron's gradient buffer holds the reduction's dtype: 18 bytes per parameter under Megatron-LM's --bf16, 6 + 12/d with its distributed optimizer, 4 + 12/d on Megatron-Core in bf16", () => {
  const m = megatronGpt({ layers: 8, hidden: 4096, heads: 32, vocab: 51200, seq: 2048 });
  const base = { hardware: hardwarePreset("a100"), seqLen: 2048, globalBatch: 32 };
  const states = (stack: "megatron-lm" | "megatron-core" | "tessera", zero: 0 | 1) => {
    const p = plan({ dp: 8, zero, gradAccum: 4 });
    const mem = memoryPerGpu(makeProblem(m, 8, { ...base, stack }), p);
    return (mem.weights + mem.gradients + mem.optimizer) / stageParams(m, p).first;
  };
  // Megatron-LM core_r0.11.0 docs/source/api-guide/dist_optimizer.md: bf16 parameters, fp32 gradients.
  close(states("megatron-lm", 0), 18, "non-distributed");
  close(states("megatron-lm", 1), 6 + 12 / 8, "distributed");
  close(states("megatron-core", 1), 4 + 12 / 8, "grad_reduce_in_fp32 = False");
  // tessera's own count (bf16 gradients held, the fp32 sum only while accumulating) is unchanged.
  close(states("tessera", 1), 4 + 12 / 8, "tessera");
});
