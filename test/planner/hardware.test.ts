import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  hardwareCacheKey,
  hardwarePreset,
  loadHardwareProfile,
  makeProblem,
  measureHardwareProfile,
  megatronGpt,
  predictStep,
  profileFromMeasurements,
  readCachedProfile,
  validateHardwareProfile,
  type HardwareProbe,
} from "../../src/parallel/planner/index.js";
import { collectiveTime, p2pTime } from "../../src/parallel/planner/collectives.js";
import { singleProcessPlan } from "../../src/parallel/planner/space.js";
import type { CalibrationShapes } from "../../src/parallel/planner/measure.js";

/** Small shapes for probes that answer from formulas (the sizes only pick what is asked). */
const calibrationShapesForTest: CalibrationShapes = {
  gemm: [256, 1024].map((n) => ({ m: 512, n, k: 512 })),
  attention: { batch: 1, heads: 8, seq: 512, headDim: 64 },
  copyBytes: 64 << 20,
  allReduceBytes: [64 << 10, 16 << 20],
};

test("presets carry the data-sheet figures", () => {
  assert.equal(hardwarePreset("A100-80GB").peakFlops, 312e12);
  assert.equal(hardwarePreset("h100").peakFlops, 989e12);
  assert.equal(hardwarePreset("h200").memoryBytes, 141 * 2 ** 30);
  assert.equal(hardwarePreset("a100-40gb").memoryBytes, 40 * 2 ** 30);
  assert.equal(hardwarePreset("mi250-gcd").memoryBytes, 64 * 2 ** 30);
  assert.equal(hardwarePreset("cpu").devicesPerNode, 4);
  assert.throws(
    () => hardwarePreset("v100"),
    /unknown GPU preset 'v100' \(known: a100-40gb, a100-80gb, h100-sxm-80gb, h200, mi250-gcd, cpu\)/,
  );
});

test("hardware profile files are validated with errors naming the field", () => {
  const good = JSON.parse(JSON.stringify(hardwarePreset("a100-80gb")));
  assert.deepEqual(validateHardwareProfile(good), hardwarePreset("a100-80gb"));
  assert.throws(() => validateHardwareProfile({ ...good, peakFlops: "fast" }), /'peakFlops' must be a non-negative number, got "fast"/);
  assert.throws(
    () => validateHardwareProfile({ ...good, gemm: { maxEfficiency: 1.5, halfDim: 1 } }),
    /'gemm.maxEfficiency' must be in \(0, 1\]/,
  );
  assert.throws(
    () => validateHardwareProfile({ ...good, intraNode: { bandwidthBytesPerS: 1 } }),
    /'intraNode.latencyS' must be a non-negative number/,
  );
  assert.throws(() => validateHardwareProfile({ ...good, host: undefined }), /'host' must be an object/);
  // FP8: the split accumulator's rate (fraction of the fast one) is kept, optional, and in (0, 1].
  const h100 = JSON.parse(JSON.stringify(hardwarePreset("h100")));
  assert.deepEqual(validateHardwareProfile(h100), hardwarePreset("h100"));
  assert.equal(
    validateHardwareProfile({ ...h100, fp8: { peakFlops: 1979e12, maxEfficiency: 0.68 } }).fp8?.splitAccumulatorSpeed,
    undefined,
  );
  assert.throws(
    () => validateHardwareProfile({ ...h100, fp8: { ...h100.fp8, splitAccumulatorSpeed: 1.15 } }),
    /'fp8.splitAccumulatorSpeed' must be in \(0, 1\], got 1.15/,
  );
  const dir = mkdtempSync(join(tmpdir(), "tessera-hw-"));
  writeFileSync(join(dir, "bad.json"), "{ nope");
  assert.throws(() => loadHardwareProfile(join(dir, "bad.json")), /hardware profile '.*bad.json' is not valid JSON/);
  assert.throws(() => loadHardwareProfile(join(dir, "missing.json")), /cannot read hardware profile/);
});

// Synthetic timings generated from a known curve, to check that the fit recovers it.
const peak = 312e12;
const truth = { maxEfficiency: 0.75, halfDim: 300, bus: 200e9, latency: 6e-6, hbm: 1.7e12 };
const gemmSeconds = (m: number, n: number, k: number) =>
  (2 * m * n * k) / (peak * ((truth.maxEfficiency * Math.min(m, n, k)) / (Math.min(m, n, k) + truth.halfDim)));
const allReduceSeconds = (n: number, bytes: number) =>
  2 * Math.ceil(Math.log2(n)) * truth.latency + ((2 * (n - 1)) / n) * (bytes / truth.bus);

test("a measured profile is fitted from raw timings", () => {
  const raw = {
    device: "NVIDIA A100-SXM4-80GB",
    software: "torch 2.13.0+cu124",
    gemm: [256, 1024, 4096].map((n) => ({ m: 8192, n, k: 8192, seconds: gemmSeconds(8192, n, 8192) })),
    attention: [{ batch: 1, heads: 32, seq: 4096, headDim: 128, seconds: (3 * 0.5 * 4 * 4096 * 4096 * 32 * 128) / (peak * 0.5) }],
    memoryCopy: { bytes: 1e9, seconds: 2e9 / truth.hbm },
    collectives: [2, 8].flatMap((n) =>
      [1 << 20, 256 << 20].map((bytes) => ({ scope: "intra" as const, groupSize: n, bytes, seconds: allReduceSeconds(n, bytes) })),
    ),
  };
  const p = profileFromMeasurements(raw, hardwarePreset("a100-80gb"), "2026-01-01T00:00:00Z");
  assert.ok(
    Math.abs(p.gemm.maxEfficiency - truth.maxEfficiency) < 1e-9 && Math.abs(p.gemm.halfDim - truth.halfDim) < 1e-6,
    JSON.stringify(p.gemm),
  );
  assert.ok(Math.abs(p.attentionEfficiency - 0.5) < 1e-12);
  assert.ok(Math.abs(p.memoryBandwidthBytesPerS - truth.hbm) < 1);
  assert.ok(Math.abs(p.intraNode.latencyS - truth.latency) < 1e-12);
  assert.deepEqual(
    p.intraNode.byGroupSize?.map(([n]) => n),
    [2, 8],
  );
  assert.ok(Math.abs(p.intraNode.byGroupSize![1]![1] - truth.bus) / truth.bus < 1e-3);
  assert.equal(p.interNode, hardwarePreset("a100-80gb").interNode); // not measured: the base profile's
  assert.deepEqual(p.measured, { device: raw.device, software: raw.software, measuredAt: "2026-01-01T00:00:00Z" });
  assert.deepEqual(validateHardwareProfile(JSON.parse(JSON.stringify(p))), p);
});

test("all-gather and reduce-scatter timed on their own are charged their measured line; without them, half an all-reduce", () => {
  // Gloo-like: an all-gather of the full bytes at 2.5 ms + bytes / 0.4 GB/s, a reduce-scatter at 4 ms + bytes / 0.3 GB/s.
  const own = { all_gather: [2.5e-3, 0.4e9], reduce_scatter: [4e-3, 0.3e9] } as const;
  const sizes = [64 << 10, 16 << 20];
  const base = hardwarePreset("cpu");
  const raw = {
    device: "cpu",
    software: "tessera",
    gemm: [256, 1024].map((n) => ({ m: 512, n, k: 512, seconds: 1e-3 * n })),
    attention: [],
    memoryCopy: { bytes: 1e8, seconds: 0.01 },
    collectives: [
      ...sizes.map((bytes) => ({ scope: "intra" as const, groupSize: 4, bytes, seconds: allReduceSeconds(4, bytes) })),
      ...(["all_gather", "reduce_scatter"] as const).flatMap((kind) =>
        sizes.map((bytes) => ({ kind, scope: "intra" as const, groupSize: 4, bytes, seconds: own[kind][0] + bytes / own[kind][1] })),
      ),
    ],
  };
  const p = profileFromMeasurements(raw, base, "2026-01-01T00:00:00Z");
  for (const kind of ["all_gather", "reduce_scatter"] as const) {
    const [[n, latency, rate]] = p.intraNode.byKind![kind]! as [[number, number, number]];
    assert.equal(n, 4);
    assert.ok(
      Math.abs(latency - own[kind][0]) < 1e-12 && Math.abs(rate - own[kind][1]) / own[kind][1] < 1e-9,
      `${kind}: ${latency} ${rate}`,
    );
    // 8 MiB over 4 ranks (and over 8: the nearest measured group size at or below).
    const t = own[kind][0] + (8 << 20) / own[kind][1];
    assert.ok(Math.abs(collectiveTime(kind, 8 << 20, 4, p.intraNode) - t) < 1e-12);
    assert.ok(Math.abs(collectiveTime(kind, 8 << 20, 8, p.intraNode) - t) < 1e-12);
  }
  // The all-reduce keeps its alpha-beta fit; with no own timings, an all-gather is half of it.
  assert.ok(Math.abs(p.intraNode.byGroupSize![0]![1] - truth.bus) / truth.bus < 1e-3);
  const plain = { ...p.intraNode, byKind: undefined };
  assert.ok(Math.abs(2 * collectiveTime("all_gather", 8 << 20, 4, plain) - collectiveTime("all_reduce", 8 << 20, 4, plain)) < 1e-12);
  assert.deepEqual(validateHardwareProfile(JSON.parse(JSON.stringify(p))), p);
  const bad = JSON.parse(JSON.stringify(p));
  bad.intraNode.byKind = { all_gather: [[4, 0.001]] };
  assert.throws(
    () => validateHardwareProfile(bad),
    /'intraNode.byKind.all_gather' must be a list of \[groupSize, latencyS, bytesPerS\] triples/,
  );
  bad.intraNode.byKind = { broadcast: [[4, 0.001, 1e9]] };
  assert.throws(() => validateHardwareProfile(bad), /'intraNode.byKind.broadcast' is not a collective kind/);
});

test("a point-to-point message timed on its own is charged its measured line (pipeline sends); without it, the link's latency and bandwidth", async () => {
  // Gloo-like: one message costs 0.25 ms + bytes / 1.4 GB/s, timed at the all-reduces' 64 KiB and 16 MiB.
  const [alpha, beta] = [0.25e-3, 1.4e9];
  const probe: HardwareProbe = {
    device: async () => "cpu",
    software: async () => "tessera",
    timeGemm: async (m, n, k) => gemmSeconds(m, n, k),
    timeAttention: async () => 0.05,
    timeMemoryCopy: async (bytes) => (2 * bytes) / truth.hbm,
    timeAllReduce: async (scope, n, bytes) => (scope === "intra" ? allReduceSeconds(n, bytes) : undefined),
    timeP2p: async (scope, bytes) => (scope === "intra" ? alpha + bytes / beta : undefined),
  };
  const cacheDir = mkdtempSync(join(tmpdir(), "tessera-cache-"));
  const base = { ...hardwarePreset("cpu"), devicesPerNode: 4 };
  const p = await measureHardwareProfile(probe, base, { cacheDir, shapes: calibrationShapesForTest });
  rmSync(cacheDir, { recursive: true, force: true });
  const [latency, rate] = p.intraNode.p2p!;
  assert.ok(Math.abs(latency - alpha) < 1e-12 && Math.abs(rate - beta) / beta < 1e-9, `${latency} ${rate}`);
  // A pipeline's 256 KiB activation: 0.25 ms + 262,144 B / 1.4 GB/s = 0.4372457 ms.
  assert.ok(Math.abs(p2pTime(256 << 10, p.intraNode) - 4.372457e-4) < 1e-10);
  // No point-to-point timing: the link's latency plus the bytes at its bandwidth, as before.
  const plain = { ...p.intraNode, p2p: undefined };
  assert.equal(p2pTime(256 << 10, plain), plain.latencyS + (256 << 10) / plain.bandwidthBytesPerS);
  assert.equal(p.interNode.p2p, undefined);
  // A 2-stage pipeline's sends on a profile with the line (no sharedCores: no simulation): each of
  // the 4 micro-batches sends its activation, 1 × 2048 tokens × 4096 × 2 B = 16 MiB, on and its gradient back.
  const gpu = { ...hardwarePreset("h100"), intraNode: { ...hardwarePreset("h100").intraNode, p2p: [alpha, beta] as [number, number] } };
  const problem = makeProblem(megatronGpt({ layers: 4, hidden: 4096, heads: 32, vocab: 51200, seq: 2048 }), 2, {
    hardware: gpu,
    seqLen: 2048,
    globalBatch: 4,
  });
  const plan = singleProcessPlan({ pp: 2, gradAccum: 4 });
  assert.ok(Math.abs(predictStep(problem, plan).step.ppComm - 4 * 2 * (0.25e-3 + (16 << 20) / 1.4e9)) < 1e-12);
  assert.deepEqual(validateHardwareProfile(JSON.parse(JSON.stringify(p))), p);
  const bad = JSON.parse(JSON.stringify(p));
  bad.intraNode.p2p = [0.001, 0];
  assert.throws(() => validateHardwareProfile(bad), /'intraNode.p2p' must be a \[latencyS, bytesPerS\] pair/);
});

test("timings too noisy for a knee (wider GEMMs slower) give a flat curve at the best efficiency seen, and the framework's time per layer and step", () => {
  const base = hardwarePreset("cpu");
  const gemm = [
    { m: 256, n: 64, k: 256, eff: 0.02 },
    { m: 256, n: 256, k: 256, eff: 0.01 },
  ].map((g) => ({ ...g, seconds: (2 * g.m * g.n * g.k) / (base.peakFlops * g.eff) }));
  const p = profileFromMeasurements(
    {
      device: "cpu",
      software: "s",
      gemm,
      attention: [],
      memoryCopy: { bytes: 1e6, seconds: 1e-4 },
      collectives: [],
      framework: { oneLayer: 0.004, twoLayers: 0.007 },
    },
    base,
  );
  assert.ok(Math.abs(p.gemm.maxEfficiency - 0.02) < 1e-12);
  assert.equal(p.gemm.halfDim, 0);
  assert.ok(Math.abs(p.overhead!.perLayerS - 0.003) < 1e-12 && Math.abs(p.overhead!.perStepS - 0.001) < 1e-12);
  assert.deepEqual(validateHardwareProfile(JSON.parse(JSON.stringify(p))), p);
});

test("measureHardwareProfile runs the probe once per device and software, then reads the cache", async () => {
  let calls = 0;
  const probe: HardwareProbe = {
    device: async () => "NVIDIA A100-SXM4-80GB",
    software: async () => "torch 2.13.0+cu124",
    timeGemm: async (m, n, k) => (calls++, gemmSeconds(m, n, k)),
    timeAttention: async () => 0.05,
    timeMemoryCopy: async (bytes) => (2 * bytes) / truth.hbm,
    timeAllReduce: async (scope, n, bytes) => (scope === "intra" ? allReduceSeconds(n, bytes) : undefined),
  };
  const cacheDir = mkdtempSync(join(tmpdir(), "tessera-cache-"));
  const first = await measureHardwareProfile(probe, hardwarePreset("a100-80gb"), { cacheDir });
  assert.equal(calls, 6);
  assert.deepEqual(
    first.intraNode.byGroupSize?.map(([n]) => n),
    [2, 4, 8],
  );
  const second = await measureHardwareProfile(probe, hardwarePreset("a100-80gb"), { cacheDir });
  assert.equal(calls, 6);
  assert.deepEqual(second, first);
  assert.equal(hardwareCacheKey("NVIDIA A100-SXM4-80GB", "torch 2.13.0+cu124"), "nvidia_a100-sxm4-80gb__torch_2.13.0+cu124.json");
  assert.equal(readCachedProfile("other device", "torch 2.13.0+cu124", cacheDir), undefined);
});
