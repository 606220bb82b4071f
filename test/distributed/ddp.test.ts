// DistributedDataParallel on 2 and 4 Gloo ranks gives the losses and parameters of one process
// training on the same global batch (1e-5 relative), with small buckets, with no_sync gradient
// accumulation, and with an unused parameter (find_unused_parameters); each also with
// gradient_as_bucket_view.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runRanks } from "./_spawn.js";

interface Run {
  losses: number[];
  params: number[];
  extraGrad: boolean;
}

function assertRel(actual: number[], expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const tol = 1e-5 * Math.max(1, Math.abs(expected[i]));
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

for (const world of [2, 4]) {
  test(`DDP on ${world} ranks matches one process`, async () => {
    const ranks = await runRanks("ddp.ts", world);
    for (const [r, o] of ranks.entries()) assert.equal(o.code, 0, `rank ${r} failed:\n${o.stderr}`);
    const ref = ranks[0].result as Record<string, Run>;
    for (const mode of ["plain", "accum", "unused"]) {
      const expected = ref[`${mode}/reference`];
      assert.equal(expected.losses.length, 20);
      for (const [r, o] of ranks.entries()) {
        for (const variant of [mode, `${mode}/view`]) {
          const got = (o.result as Record<string, Run>)[variant];
          assertRel(got.losses, expected.losses, `rank ${r} ${variant} losses`);
          assertRel(got.params, expected.params, `rank ${r} ${variant} params`);
          assert.equal(got.extraGrad, false, "an unused parameter keeps no gradient");
        }
      }
    }
  });
}
