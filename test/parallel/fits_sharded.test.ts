// The failure case turned round: with each process's memory capped (prlimit --data, 900 MB), a
// 69M-parameter model (1.1 GB of fp32 AdamW training state) runs out of memory as one process and
// trains under ZeRO-3 on 4 ranks, each holding a quarter of the weights, gradients and AdamW state.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { here, reports } from "./_job.js";

const LIMIT = 900_000_000;
const script = path.join(here, "workers", "fits_sharded.ts");

interface Report {
  rank: number;
  losses: number[];
  before: number;
  after: number;
  plan: { zero: number; dp: number };
}

function capped(nproc: number, plan: object | null): { status: number | null; stdout: string; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, TESSERA_NPROC: String(nproc), NODE_OPTIONS: "--expose-gc" };
  for (const k of ["RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "TESSERA_PLAN"]) delete env[k];
  if (plan !== null) env.TESSERA_PLAN = JSON.stringify(plan);
  const r = spawnSync("prlimit", [`--data=${LIMIT}`, process.execPath, "--import", "tsx", script], {
    env,
    encoding: "utf8",
    timeout: 300_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("a model that does not fit one process's memory limit trains under ZeRO-3 on 4 ranks", { timeout: 600_000 }, () => {
  const one = capped(1, null);
  assert.notEqual(one.status, 0, `one process should run out of memory under the cap:\n${one.stdout}`);
  assert.match(one.stdout + one.stderr, /can't allocate memory|Cannot allocate memory|out of memory/i);

  const four = capped(4, { zero: 3, tp: 1 });
  assert.equal(four.status, 0, `${four.stdout}\n${four.stderr}`);
  const ranks = reports<Report>(four.stdout);
  assert.equal(ranks.length, 4, four.stdout);
  for (const r of ranks) {
    assert.equal(r.plan.zero, 3);
    assert.equal(r.losses.length, 3);
    assert.ok(r.losses.every(Number.isFinite), JSON.stringify(r.losses));
    assert.ok(r.losses[2] < r.losses[0], `rank ${r.rank} learns: ${JSON.stringify(r.losses)}`);
    assert.ok(r.after < LIMIT, `rank ${r.rank} ends under the cap: ${r.after}`);
  }
  assert.deepEqual(
    ranks.map((r) => r.losses),
    ranks.map(() => ranks[0].losses),
    "every rank reports the global loss",
  );
});

test("built sharded: under ZeRO-3 from_pretrained reads only this rank's units, one at a time", { timeout: 600_000 }, () => {
  const worker = path.join(here, "workers", "load_sharded.ts");
  const dir = mkdtempSync(path.join(os.tmpdir(), "tessera-load-sharded-"));
  try {
    const env = (nproc: number, plan: object | null): NodeJS.ProcessEnv => {
      const e: NodeJS.ProcessEnv = { ...process.env, TESSERA_NPROC: String(nproc) };
      for (const k of ["RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "TESSERA_PLAN"]) delete e[k];
      if (plan !== null) e.TESSERA_PLAN = JSON.stringify(plan);
      return e;
    };
    const run = (args: string[], nproc: number, plan: object | null): LoadReport[] => {
      const r = spawnSync(process.execPath, ["--import", "tsx", worker, ...args], {
        env: env(nproc, plan),
        encoding: "utf8",
        timeout: 300_000,
      });
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
      return reports<LoadReport>(r.stdout);
    };
    run(["save", dir], 1, null);
    const [whole] = run(["load", dir], 1, null);
    const sharded = run(["load", dir], 4, { zero: 3, tp: 1 });
    assert.equal(sharded.length, 4);
    const modelBytes = 4 * 68_753_152;
    for (const r of sharded) {
      assert.equal(r.plan.zero, 3);
      assert.ok(Math.abs(r.loss - whole.loss) <= 1e-5 * Math.abs(whole.loss), `rank ${r.rank}: loss ${r.loss} vs ${whole.loss}`);
      // A quarter of the weights (69 MB) plus the units in flight (the one being read and the next,
      // prefetched) and allocator slack, never the 275 MB model: 0.5 of it was hit at 0.506 once.
      assert.ok(r.grown < 0.6 * modelBytes, `rank ${r.rank} grew by ${r.grown} bytes while loading (model: ${modelBytes})`);
    }
    assert.ok(whole.grown > 0.9 * modelBytes, `one process holds the whole model (${whole.grown} bytes)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

interface LoadReport {
  rank: number;
  grown: number;
  loss: number;
  plan: { zero: number };
}
