// The pipeline schedule on ranks sharing cores (src/parallel/planner/pipeline_sim.ts) against
// schedules worked out by hand.
import assert from "node:assert/strict";
import { test } from "node:test";
import { simulatePipeline, type PipelineTasks } from "../../src/parallel/planner/pipeline_sim.js";

// Two ranks on one core's worth: either alone runs twice its speed with both busy.
const speed = (busy: number): number => (busy <= 1 ? 2 : 1);
const twoByTwo: PipelineTasks = { pp: 2, vpp: 1, microBatches: 2, forward: [1, 1], backward: [2, 2], p2p: 0, ranksPerStage: 1, speed };

test("2 stages × 2 micro-batches, equal costs, speed 2 alone and 1 together: makespan 6 by hand", () => {
  // Rank 0: F0 F1 B0 B1; rank 1: F0 B0 F1 B1 (1F1B). F0@r0 alone [0, 0.5]; F1@r0 and F0@r1 together
  // [0.5, 1.5]; B0@r1 alone [1.5, 2.5]; B0@r0 (2) beside F1@r1 (1) to 3.5, B0@r0 has 1 left; beside
  // B1@r1 to 4.5, B1@r1 has 1 left; alone to 5; B1@r0 alone [5, 6].
  assert.equal(simulatePipeline(twoByTwo), 6);
  // Without sharing (speed 1 throughout): the 1F1B step, m·3 + the other stage's 3 = 9.
  assert.equal(simulatePipeline({ ...twoByTwo, speed: () => 1 }), 9);
});

test("sends take time: a rank waiting on a message leaves the core to the other", () => {
  // p2p 1: F0@r0 [0, 0.5], F1@r0 [0.5, 1]; F0 reaches r1 at 1.5: [1.5, 2]; B0@r1 [2, 3]; F1@r1
  // [3, 3.5]; B1@r1 alone from 3.5 (1 done by 4), B0 reaches r0 at 4: both busy, B1@r1 ends 5,
  // B0@r0 has 1 left, alone to 5.5; B1 reaches r0 at 6: [6, 7].
  assert.equal(simulatePipeline({ ...twoByTwo, p2p: 1 }), 7);
});

test("a heavier last stage (the output layer and loss) and two ranks per stage", () => {
  // Busy ranks 2 (one stage) → speed 2, 4 (both) → speed 1. Last stage forward 2, backward 4.
  // F0@r0 [0, 0.5]; F1@r0 with F0@r1 (2): F1@r0 ends 1.5, F0@r1 has 1 left, alone to 2; B0@r1 (4)
  // alone [2, 4]; B0@r0 (2) with F1@r1 (2) together [4, 6]; B1@r1 alone [6, 8]; B1@r0 [8, 9].
  const tasks = { ...twoByTwo, forward: [1, 2], backward: [2, 4], ranksPerStage: 2, speed: (busy: number) => (busy <= 2 ? 2 : 1) };
  assert.equal(simulatePipeline(tasks), 9);
  assert.throws(() => simulatePipeline({ ...tasks, forward: [1] }), /2 chunks but 1 forward/);
});
