import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { validateHardwareProfile } from "../../src/parallel/planner/index.js";
import { calibrationShapes } from "../../src/launch/calibrate.js";
import { repoRoot } from "./reference.js";

function tessera(cacheDir: string, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [resolve(repoRoot, "bin/tessera.mjs"), "plan", ...args], {
    encoding: "utf8",
    env: { ...process.env, TESSERA_CACHE_DIR: cacheDir },
    timeout: 240_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("calibration shapes follow the model's widths", () => {
  const s = calibrationShapes({ hidden: 768, ffn: 3072, headDim: 64, heads: 12 }, 128);
  assert.deepEqual(
    s.gemm,
    [192, 384, 768, 3072].map((n) => ({ m: 128, n, k: 768 })),
  );
  assert.deepEqual(s.attention, { batch: 1, heads: 8, seq: 128, headDim: 64 });
});

test(
  "tessera plan --calibrate measures this machine on Gloo ranks, caches the profile per device and software, and --gpu local plans with it",
  { timeout: 300_000 },
  () => {
    const cacheDir = mkdtempSync(join(tmpdir(), "tessera-calibrate-test-"));
    try {
      const none = tessera(cacheDir, "--model", "gpt2", "--gpus", "2", "--gpu", "local");
      assert.equal(none.code, 2);
      assert.match(none.stderr, /--gpu local: this machine has no measured profile .* \(run tessera plan --calibrate\)/);
      const first = tessera(cacheDir, "--calibrate", "--nproc", "2", "--model", "gpt2", "--seq-len", "128");
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /\(measured\): GEMM [\d.]+ % of .* all-reduce bus bandwidth 2 ranks [\d.]+ GB\/s/);
      const files = readdirSync(cacheDir);
      assert.equal(files.length, 1);
      assert.match(files[0]!, /^cpu_.*__tessera_.*torch_.*\.json$/);
      const profile = validateHardwareProfile(JSON.parse(readFileSync(join(cacheDir, files[0]!), "utf8")));
      assert.equal(profile.source, "measured");
      assert.equal(profile.devicesPerNode, 2);
      assert.ok(profile.memoryBandwidthBytesPerS > 1e8 && profile.gemm.maxEfficiency > 0 && profile.attentionEfficiency > 0);
      assert.deepEqual(
        profile.intraNode.byGroupSize?.map(([n]) => n),
        [2],
      );
      // All-gather and reduce-scatter are timed on their own, over the same group sizes.
      for (const kind of ["all_gather", "reduce_scatter"] as const) {
        const points = profile.intraNode.byKind?.[kind] ?? [];
        assert.deepEqual(
          points.map(([n]) => n),
          [2],
          kind,
        );
        assert.ok(
          points.every(([, latency, rate]) => latency >= 0 && rate > 1e6),
          `${kind}: ${JSON.stringify(points)}`,
        );
      }
      // Point-to-point messages between the pair of ranks: a measured line.
      const [p2pLatency, p2pRate] = profile.intraNode.p2p ?? [-1, 0];
      assert.ok(p2pLatency >= 0 && p2pRate > 1e6, `p2p: ${JSON.stringify(profile.intraNode.p2p)}`);
      // Ranks sharing the cores: the executors' own work, from steps run as plans run (a pipeline over
      // both ranks, data parallelism over both); replicas of a pipeline need 4 ranks.
      const o = profile.overhead!;
      assert.ok(o.pipelineTaskS! >= 0 && o.dataParallelStepS! >= 0, JSON.stringify(o));
      assert.equal(o.replicaStepS, undefined);
      // The same device and software: the cache answers, nothing is measured again.
      const again = tessera(cacheDir, "--calibrate", "--nproc", "2", "--model", "gpt2", "--seq-len", "128");
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(readdirSync(cacheDir), files);
      assert.equal(
        validateHardwareProfile(JSON.parse(readFileSync(join(cacheDir, files[0]!), "utf8"))).measured?.measuredAt,
        profile.measured?.measuredAt,
      );
      const planned = tessera(cacheDir, "--model", "gpt2", "--gpus", "2", "--gpu", "local", "--seq-len", "128", "--json");
      assert.equal(planned.code, 0, planned.stderr);
      assert.equal((JSON.parse(planned.stdout) as { hardware: string }).hardware, profile.name);
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  },
);
