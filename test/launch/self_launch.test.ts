// A script with the one line, started as a single process with TESSERA_NPROC=2, trains as a 2-rank
// data-parallel job and prints one merged log (rank 0 bare, rank 1 prefixed); the code before the
// one line runs once per rank (the starting process is rank 0).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

test("the one line turns one process into a 2-rank job", { timeout: 60_000 }, () => {
  const env: NodeJS.ProcessEnv = { ...process.env, TESSERA_NPROC: "2" };
  for (const k of ["RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"]) delete env[k];
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(here, "workers", "one_line.ts")], { env, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(
    lines.filter((l) => l === "[tessera] advanced parallelization: 2 ranks (gloo); the plan is made when the model is built").length,
    1,
    r.stdout,
  );
  for (let step = 0; step < 3; step++) {
    assert.ok(lines.includes(`step ${step} rank 0 of 2`), r.stdout);
    assert.ok(lines.includes(`[rank1]: step ${step} rank 1 of 2`), r.stdout);
  }
  assert.deepEqual(
    lines.filter((l) => l.endsWith("before the one line")),
    ["before the one line", "[rank1]: before the one line"],
    "once per rank",
  );
  assert.equal(lines.length, 9, "no other process ran the script");
});

for (const failing of [0, 1]) {
  test(`when rank ${failing} of a self-launched job fails, the job stops at once and says which`, { timeout: 60_000 }, () => {
    const env: NodeJS.ProcessEnv = { ...process.env, TESSERA_NPROC: "2" };
    for (const k of ["RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"]) delete env[k];
    const started = Date.now();
    const r = spawnSync(process.execPath, ["--import", "tsx", path.join(here, "workers", "fail_rank.ts"), String(failing)], {
      env,
      encoding: "utf8",
      timeout: 50_000,
    });
    assert.notEqual(r.status, 0, r.stdout);
    assert.ok(Date.now() - started < 40_000, "no rank waited for a collective timeout");
    assert.match(r.stderr, new RegExp(`rank ${failing} fails on purpose`));
    if (failing === 1) assert.match(r.stderr, /rank 1 failed with exit code 1; stopped the others/);
    assert.doesNotMatch(r.stdout, /was not stopped/);
  });
}
