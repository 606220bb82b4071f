// A plan the runtime cannot apply, or a model that fits nowhere, stops the script before training
// with a clear error (the smallest cluster that fits, when there is one); a bad plan key is named.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { hardwarePreset } from "../../src/parallel/planner/index.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const script = path.join(here, "workers", "refusal.ts");

function run(nproc: number, plan: object | null, args: string[] = []): { status: number | null; out: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, TESSERA_NPROC: String(nproc) };
  for (const k of ["RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "TESSERA_PLAN"]) delete env[k];
  if (plan !== null) env.TESSERA_PLAN = JSON.stringify(plan);
  const r = spawnSync(process.execPath, ["--import", "tsx", script, ...args], { env, encoding: "utf8", timeout: 120_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

test("a plan that cannot apply to this job is refused before training", { timeout: 120_000 }, () => {
  const r = run(1, { zero: 2 });
  assert.notEqual(r.status, 0);
  assert.match(r.out, /Advanced Parallelization: no plan fits .*: rule "/);
  assert.doesNotMatch(r.out, /training would start here/);
  const dp = run(2, { dp: 4 });
  assert.notEqual(dp.status, 0);
  assert.match(dp.out, /the plan fixes dp 4.*, but the job has 2 ranks/);
});

test("a model that fits nowhere on these devices names the smallest cluster that fits", { timeout: 120_000 }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "tessera-hw-"));
  try {
    // A CPU "device" of 250 KB: the tiny Llama's training state (~360 KB of fp32 AdamW states plus
    // activations and the reserve) needs several of them.
    const hw = { ...hardwarePreset("cpu"), name: "tiny CPU", source: "test", memoryBytes: 250_000, reservedBytes: 0 };
    const file = path.join(dir, "hw.json");
    writeFileSync(file, JSON.stringify(hw));
    const r = run(1, null, [file]);
    assert.notEqual(r.status, 0, r.out);
    assert.match(r.out, /no plan fits .* on 1 × tiny CPU: rule "memory per GPU ≤ .*The smallest cluster that fits is \d+ GPUs/);
    assert.doesNotMatch(r.out, /training would start here/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an unknown plan key is named with the known ones", { timeout: 120_000 }, () => {
  const r = run(1, { zer0: 1 });
  assert.notEqual(r.status, 0);
  assert.match(r.out, /TESSERA_PLAN: unknown key 'zer0' \(known: dp, tp, pp/);
});
