// The one line applies data parallelism to an unchanged script of plain nn modules: run as 2
// self-launched ranks with the same batch_size 8 (the global batch), it ends with the parameters of
// the same script run as one process (each rank reads its half of every global batch, and the
// optimizer's parameters get their gradients averaged as backward produces them), and the ranks
// read disjoint halves of every epoch.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "workers", "plain_dp.ts");

interface RankReport {
  rank: number;
  world_size: number;
  batches: number;
  seen: number[][];
  drifted_share: number[];
  params: number[][];
}

function run(nproc: number, batchSize: number): { reports: RankReport[]; stdout: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, TESSERA_NPROC: String(nproc) };
  for (const k of ["RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"]) delete env[k];
  const r = spawnSync(process.execPath, ["--import", "tsx", script, String(batchSize)], { env, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const reports = r.stdout
    .split("\n")
    .map((l) => l.replace(/^\[rank\d+\]: /, ""))
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as RankReport)
    .sort((a, b) => a.rank - b.rank);
  return { reports, stdout: r.stdout };
}

test("2 ranks train exactly like 1 process on the same global batch of 8, each rank on its own half", { timeout: 60_000 }, () => {
  const single = run(1, 8);
  const dp = run(2, 8);
  assert.equal(single.reports.length, 1, single.stdout);
  assert.equal(dp.reports.length, 2, dp.stdout);
  assert.deepEqual(
    dp.reports.map((r) => [r.rank, r.world_size, r.batches]),
    [
      [0, 2, 2],
      [1, 2, 2],
    ],
  );

  const want = single.reports[0].params.flat();
  for (const r of dp.reports) {
    const got = r.params.flat();
    assert.equal(got.length, 5);
    got.forEach((v, i) =>
      assert.ok(Math.abs(v - want[i]) <= 1e-5 * Math.max(1, Math.abs(want[i])), `rank ${r.rank} param ${i}: ${v} vs ${want[i]}`),
    );
  }
  // The single process trained: its parameters moved away from the same start on both runs.
  assert.notDeepEqual(want, [0, 0, 0, 0, 0]);

  // Step s of each rank reads its contiguous half of the single process's batch s (as batch.chunk(2)[rank]).
  for (const r of dp.reports) {
    single.reports[0].seen.forEach((batch, s) =>
      assert.deepEqual(r.seen[s], batch.slice(4 * r.rank, 4 * r.rank + 4), `rank ${r.rank} step ${s}`),
    );
  }
  // The first epoch (steps 0 and 1): disjoint, and together all 16 samples.
  const epoch = dp.reports.map((r) => [...r.seen[0], ...r.seen[1]]);
  assert.equal(new Set(epoch[0]).size, 8);
  assert.deepEqual(
    epoch[0].filter((i) => epoch[1].includes(i)),
    [],
  );
  assert.deepEqual(
    [...epoch[0], ...epoch[1]].sort((a, b) => a - b),
    Array.from({ length: 16 }, (_, i) => i),
  );
  // Loaders whose generators differ per rank still split one order (rank 0's) between the ranks.
  const drifted = dp.reports.flatMap((r) => r.drifted_share);
  assert.deepEqual(
    dp.reports.map((r) => r.drifted_share.length),
    [8, 8],
  );
  assert.deepEqual(
    drifted.sort((a, b) => a - b),
    Array.from({ length: 16 }, (_, i) => i),
  );
});
