// clip_grad_norm_ over parameters sharded across 2 Gloo ranks (each rank marks its shard with
// _mark_sharded) gives the norm of the full gradients, as one process computes it over the
// unsharded tensors, and clips every shard and replicated gradient by the same coefficient.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runRanks } from "./_spawn.js";

interface Case {
  total: number;
  refTotal: number;
  shard: number[];
  refShard: number[];
  rep: number[];
  refRep: number[];
}

function close(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= 1e-5 * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs ${expected}`);
}

function closeAll(actual: number[], expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) close(actual[i], expected[i], `${what}[${i}]`);
}

test("clip_grad_norm_ over 2 shards matches one process over the full tensors", async () => {
  const ranks = await runRanks("clip_grad_sharded.ts", 2);
  for (const [r, o] of ranks.entries()) assert.equal(o.code, 0, `rank ${r} failed:\n${o.stderr}`);
  for (const [r, o] of ranks.entries()) {
    const out = o.result as Record<string, Case> & { nograd: Record<string, number> };
    for (const name of ["l2", "inf", "l3_f64"]) {
      const c = out[name];
      close(c.total, c.refTotal, `rank ${r} ${name} total`);
      assert.ok(c.refTotal > 1, `${name}: the gradients are large enough to be clipped`);
      assert.equal(c.shard.length, r === 0 ? 3 : 7);
      closeAll(c.shard, c.refShard, `rank ${r} ${name} shard`);
      closeAll(c.rep, c.refRep, `rank ${r} ${name} replicated`);
    }
    close(out.nograd.total, out.nograd.refTotal, `rank ${r} total with an empty shard`);
    close(out.nograd.viaGrads, out.nograd.refViaGrads, `rank ${r} get_total_norm on marked gradients`);
  }
  // Both ranks agree on the norm, so both clip by the same coefficient.
  const [a, b] = ranks.map((o) => o.result as Record<string, Case>);
  for (const name of ["l2", "inf", "l3_f64"]) assert.equal(a[name].total, b[name].total);
});
