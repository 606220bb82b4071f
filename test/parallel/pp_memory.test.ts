// A pipeline stage's memory does not grow with the micro-batch count: 1F1B holds at most pp − stage
// micro-batches in flight (planner/stages.ts inFlightMicroBatches), so with as many or more
// micro-batches than stages, a step of 3 and one of 6 micro-batches of the same size peak at the same
// counted bytes on every rank — with no V8 collection during the step (test/parallel/workers/pp_memory.ts).
// What a micro-batch leaves behind after its backward (logits, its input and output, received
// gradients, sent tensors a Work still pins, per-micro-batch scalars) would add to the longer step's peak.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { assertOk, here, runJob } from "./_job.js";

const script = path.join(here, "workers", "pp_memory.ts");

test("a pipeline step's per-rank peak is the same for 3 and 6 micro-batches (pp 2, 1F1B)", { timeout: 240_000 }, () => {
  const peaks = [3, 6].map((m) => {
    const r = runJob<{ rank: number; peak: number }>(script, [String(2 * m)], 2, { pp: 2, micro_batch: 2, grad_accum: m });
    assertOk(r, 2, `pp 2, ${m} micro-batches`);
    return r.reports.map((rep) => rep.peak);
  });
  for (const p of peaks.flat()) assert.ok(p > 0, "the step allocated");
  assert.deepEqual(peaks[1], peaks[0], "peak bytes by rank, 6 micro-batches against 3");
});
