// The sequence-parallel column-parallel linear (src/parallel/executors/tensor_parallel_linear.ts) on
// 2 Gloo ranks: it keeps only the rank's sequence shard for backward (after forward the region holds
// its outputs and nothing of the gathered input), its outputs and gradients are those of F.linear on
// the whole input (the input's gradient summed over the 2 ranks, which hold the same weights here),
// the region's linears share one all-gather in backward, a retained graph backpropagates again, and
// a third backward through a freed region fails naming the cause.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runRanks } from "./_spawn.js";

interface Out {
  kept: number;
  outputBytes: number;
  inputBytes: number;
  outs: number[][];
  refOuts: number[][];
  grads: { shard: number[]; w0: number[]; w1: number[]; b: number[] };
  refGrads: { x: number[]; w0: number[]; w1: number[]; b: number[] };
  calls: string[];
  third: string;
}

function closeAll(actual: number[], expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  actual.forEach((a, i) =>
    assert.ok(Math.abs(a - expected[i]) <= 1e-5 * Math.max(1, Math.abs(expected[i])), `${what}[${i}]: ${a} vs ${expected[i]}`),
  );
}

test("a sequence-parallel region's column-parallel linears keep the shard and re-gather it once in backward", async () => {
  const ranks = await runRanks("tp_column_linear.ts", 2);
  for (const [r, o] of ranks.entries()) assert.equal(o.code, 0, `rank ${r} failed:\n${o.stderr}`);
  for (const [r, o] of ranks.entries()) {
    const out = o.result as Out;
    // 2 outputs of 2·8·12 fp32 = 1,536 bytes; the gathered 2·8·16 input (1,024 bytes) is gone.
    assert.equal(out.outputBytes, 1536);
    assert.equal(out.kept, out.outputBytes, `rank ${r}: bytes kept after forward`);
    out.outs.forEach((y, i) => closeAll(y, out.refOuts[i], `rank ${r} output ${i}`));
    // Two backwards: twice the reference; the shard's gradient also sums the 2 ranks' equal parts.
    const twice = (xs: number[]): number[] => xs.map((v) => 2 * v);
    closeAll(out.grads.shard, twice(twice(out.refGrads.x)), `rank ${r} input gradient`);
    closeAll(out.grads.w0, twice(out.refGrads.w0), `rank ${r} weight 0 gradient`);
    closeAll(out.grads.w1, twice(out.refGrads.w1), `rank ${r} weight 1 gradient`);
    closeAll(out.grads.b, twice(out.refGrads.b), `rank ${r} bias gradient`);
    assert.deepEqual(out.calls.sort(), ["all_gather_into_tensor", "reduce_scatter_tensor"], `rank ${r}: the first backward's collectives`);
    assert.match(out.third, /a sequence-parallel region a second time/, `rank ${r}: third backward`);
  }
});
