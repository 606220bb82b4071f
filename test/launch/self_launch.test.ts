// A script with the one line, started as a single process with TESSERA_NPROC=2, trains as a 2-rank
// data-parallel job and prints one merged log (rank 0 bare, rank 1 prefixed).
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
  assert.equal(lines.filter((l) => l === "[tessera] advanced parallelization: 2 ranks (gloo); the plan is made when the model is built").length, 1, r.stdout);
  for (let step = 0; step < 3; step++) {
    assert.ok(lines.includes(`step ${step} rank 0 of 2`), r.stdout);
    assert.ok(lines.includes(`[rank1]: step ${step} rank 1 of 2`), r.stdout);
  }
  assert.equal(lines.length, 7, "the supervisor itself ran no training step");
});
