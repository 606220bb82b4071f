// Every collective over Gloo on 2 and 4 CPU processes, several dtypes and sizes, against
// hand-computed results. Inputs: rank r holds value(r, i) = i % 5 + r + 1.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runRanks } from "./_spawn.js";

const value = (r: number, i: number): number => (i % 5) + r + 1;
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const dtypes = ["float32", "float64", "int64", "bfloat16"];

function assertNear(actual: unknown, expected: number[], what: string, rtol: number): void {
  const a = actual as number[];
  assert.equal(a.length, expected.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    const tol = rtol * Math.abs(expected[i]);
    assert.ok(Math.abs(a[i] - expected[i]) <= tol, `${what}[${i}]: got ${a[i]}, expected ${expected[i]}`);
  }
}

function expectedAllReduce(op: string, world: number, n: number, integral: boolean): number[] {
  return range(n).map((i) => {
    const vs = range(world).map((r) => value(r, i));
    const sum = vs.reduce((a, b) => a + b, 0);
    if (op === "SUM") return sum;
    if (op === "PRODUCT") return vs.reduce((a, b) => a * b, 1);
    if (op === "MIN") return Math.min(...vs);
    if (op === "MAX") return Math.max(...vs);
    return integral ? Math.trunc(sum / world) : sum / world;
  });
}

function checkWorld(results: Record<string, unknown>[], world: number): void {
  for (const [rank, out] of results.entries()) {
    for (const dt of dtypes) {
      const rtol = dt === "bfloat16" ? 8e-3 : 0;
      for (const n of [1, 5, 1000]) {
        for (const op of ["SUM", "PRODUCT", "MIN", "MAX", "AVG"]) {
          const key = `all_reduce/${dt}/${n}/${op}`;
          assertNear(out[key], expectedAllReduce(op, world, n, dt === "int64"), `rank ${rank} ${key}`, rtol);
        }
        assertNear(
          out[`broadcast/${dt}/${n}`],
          range(n).map((i) => value(world - 1, i)),
          `rank ${rank} broadcast`,
          0,
        );
        const gathered = out[`all_gather/${dt}/${n}`] as number[][];
        for (let r = 0; r < world; r++)
          assertNear(
            gathered[r],
            range(n).map((i) => value(r, i)),
            `rank ${rank} all_gather[${r}]`,
            0,
          );
        assertNear(
          out[`all_gather_into_tensor/${dt}/${n}`],
          range(world * n).map((k) => value(Math.floor(k / n), k % n)),
          `rank ${rank} all_gather_into_tensor`,
          0,
        );
        for (const op of ["SUM", "AVG"]) {
          const sums = range(n).map((j) => range(world).reduce((a, r) => a + value(r, rank * n + j), 0));
          const exp = op === "SUM" ? sums : sums.map((s) => (dt === "int64" ? Math.trunc(s / world) : s / world));
          assertNear(out[`reduce_scatter_tensor/${dt}/${n}/${op}`], exp, `rank ${rank} reduce_scatter_tensor ${dt} ${n} ${op}`, rtol);
        }
      }
      // Rank s sends rows [offset, offset + s + rank + 1) of its input (values 100 s + row).
      const exp: number[] = [];
      for (let s = 0; s < world; s++) {
        let offset = 0;
        for (let d = 0; d < rank; d++) offset += s + d + 1;
        for (let k = 0; k < s + rank + 1; k++) exp.push(100 * s + offset + k);
      }
      assertNear(out[`all_to_all_single/${dt}`], exp, `rank ${rank} all_to_all_single ${dt}`, rtol);
    }
    const asyncOut = out.async as { avg: number[]; completed: boolean; order: string[] | null };
    assert.deepEqual(asyncOut.avg, [(world + 1) / 2, (world + 1) / 2]);
    assert.equal(asyncOut.completed, true);
    if (rank === 1) assert.deepEqual(asyncOut.order, ["timer", "collective"], "the event loop ran while the collective was pending");
  }
}

for (const world of [2, 4]) {
  test(`collectives on ${world} Gloo ranks`, async () => {
    const ranks = await runRanks("collectives.ts", world);
    for (const [r, o] of ranks.entries()) assert.equal(o.code, 0, `rank ${r} failed:\n${o.stderr}`);
    checkWorld(
      ranks.map((o) => o.result as Record<string, unknown>),
      world,
    );
  });
}
