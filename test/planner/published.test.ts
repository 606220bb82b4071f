import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { test } from "node:test";
import { forEachShape } from "../../src/parallel/planner/space.js";
import {
  publishedPlan,
  publishedProblem,
  validatePublished,
  type PublishedTable,
  type PublishedValidation,
} from "../../src/parallel/planner/published.js";
import { referenceDir } from "./reference.js";

const table = JSON.parse(readFileSync(resolve(referenceDir, "published_results.json"), "utf8")) as PublishedTable;
const results: PublishedValidation[] = table.rows.map((row) => validatePublished(table, row));
const meanAbs = (rs: PublishedValidation[]): number => rs.reduce((a, r) => a + Math.abs(r.error), 0) / rs.length;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

test("every published layout is one the planner expresses: uneven stages (126 layers at pp 8/16, 70 at pp 12), cp, interleaving", () => {
  assert.ok(table.rows.length >= 25);
  for (const row of table.rows) {
    const problem = publishedProblem(table, row);
    const plan = publishedPlan(row, problem.model);
    let found = false;
    const fixed = { dp: plan.dp, tp: plan.tp, pp: plan.pp, cp: plan.cp, vpp: plan.vpp, microBatch: plan.microBatch, zero: plan.zero };
    forEachShape(problem, fixed, () => (found = true));
    assert.ok(found, `${row.id}: the published layout is refused by the planner's rules`);
    assert.ok(Number.isFinite(results.find((r) => r.row.id === row.id)!.predictedTokensPerGpu), row.id);
  }
  const layers = (id: string) => publishedProblem(table, table.rows.find((r) => r.id === id)!).model.layers;
  assert.equal(layers("llama3-405b-8k"), 126);
  assert.equal(layers("bloom-176b"), 70);
});

test("published results the planner was not fitted to: error bounds as measured (docs/planner-validation.md)", () => {
  const nvidia = results.filter((r) => r.row.stack === "nvidia");
  const a100 = results.filter((r) => r.row.gpu.startsWith("a100"));
  assert.ok(nvidia.length >= 14 && a100.length >= 10);
  // The target: 8 % on both sets, each row evaluated with the stack that ran it. The NVIDIA
  // rows (all FP8) hold it once Transformer Engine's backward GEMMs are charged at cuBLAS's split
  // accumulator (5.6 %; 7.3 and 4.6 % at the two ends of the sourced 1.1-1.2x, hardware.ts).
  assert.ok(meanAbs(nvidia) <= 0.08, `NVIDIA H100 mean |error| ${(100 * meanAbs(nvidia)).toFixed(1)} %`);
  assert.ok(meanAbs(a100) <= 0.08, `A100 mean |error| ${(100 * meanAbs(a100)).toFixed(1)} %`);
  // The free search does not claim implausible gains over Megatron-Core's hand-tuned layouts.
  const gain = median(nvidia.map((r) => r.freeGain));
  assert.ok(gain <= 0.1, `median free-search gain ${(100 * gain).toFixed(1)} %`);
  // It never picks context parallelism (the runtime does not execute it).
  for (const r of results) assert.equal(r.free?.plan.cp ?? 1, 1, r.row.id);
});

test("published layouts fit in device memory under their own stack's accounting (docs/planner-validation.md)", () => {
  const GiB = 2 ** 30;
  for (const r of results) assert.ok(r.published.fits, `${r.row.id}: ${(r.published.memory.total / GiB).toFixed(1)} GiB`);
});
