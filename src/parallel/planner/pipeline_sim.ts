// One training step's pipeline schedule on ranks that share a machine's cores (CPU ranks): every
// rank runs its order (executors/pipeline_schedule.ts, what the runtime runs) as soon as the input
// it needs has arrived, sends never block (the runtime's isend), and a task's work, in seconds at
// the all-ranks-busy rate, progresses at the speed for the number of ranks computing at that moment
// (processor sharing, re-evaluated whenever a task starts or ends). A stage that waits on its
// neighbours leaves its cores to the others, and cores idle in fill and drain, as they do measured.
import { pipelineOrder, type PipelineStep } from "../executors/pipeline_schedule.js";

export interface PipelineTasks {
  pp: number;
  vpp: number;
  microBatches: number;
  /** Per global chunk (pp·vpp), one micro-batch's forward and backward, in all-busy seconds. */
  forward: number[];
  backward: number[];
  /** Seconds from a task's end to its message's arrival at the neighbouring stage. */
  p2p: number;
  /** Ranks computing while one stage computes (tp·cp·dp). */
  ranksPerStage: number;
  /** A rank's speed with `busy` ranks computing, relative to all ranks busy. */
  speed: (busy: number) => number;
}

const key = (kind: "F" | "B", chunk: number, microBatch: number): string => `${kind}${chunk}/${microBatch}`;

/** Seconds from the first forward's start to the last backward's end. */
export function simulatePipeline(t: PipelineTasks): number {
  const chunks = t.pp * t.vpp;
  if (t.forward.length !== chunks || t.backward.length !== chunks)
    throw new Error(`pipeline simulation: ${chunks} chunks but ${t.forward.length} forward and ${t.backward.length} backward costs`);
  const orders = Array.from({ length: t.pp }, (_, r) => pipelineOrder(t.pp, t.vpp, t.microBatches, r));
  const next = new Array<number>(t.pp).fill(0);
  const running = new Array<{ step: PipelineStep; left: number } | null>(t.pp).fill(null);
  const done = new Map<string, number>();
  // When the input of `step` is there (Infinity: not yet produced); a rank's own forward needs no message.
  const ready = (step: PipelineStep): number => {
    const from = step.kind === "F" ? step.chunk - 1 : step.chunk + 1;
    if (from < 0) return 0;
    if (from >= chunks) return done.get(key("F", step.chunk, step.microBatch)) ?? Number.POSITIVE_INFINITY;
    const end = done.get(key(step.kind, from, step.microBatch));
    return end === undefined ? Number.POSITIVE_INFINITY : end + t.p2p;
  };
  let now = 0;
  for (;;) {
    for (let r = 0; r < t.pp; r++) {
      if (running[r] !== null || next[r] >= orders[r].length) continue;
      const step = orders[r][next[r]];
      if (ready(step) <= now) {
        running[r] = { step, left: (step.kind === "F" ? t.forward : t.backward)[step.chunk] };
        next[r]++;
      }
    }
    const active = running.filter((x) => x !== null).length;
    const rate = active === 0 ? 0 : t.speed(active * t.ranksPerStage);
    let until = Number.POSITIVE_INFINITY;
    for (let r = 0; r < t.pp; r++) {
      const task = running[r];
      if (task !== null) until = Math.min(until, now + task.left / rate);
      else if (next[r] < orders[r].length) until = Math.min(until, ready(orders[r][next[r]]));
    }
    if (until === Number.POSITIVE_INFINITY) break;
    const elapsed = until - now;
    now = until;
    for (let r = 0; r < t.pp; r++) {
      const task = running[r];
      if (task === null) continue;
      // The tasks that end now, rounding aside.
      task.left = Math.max(0, task.left - rate * elapsed);
      if (task.left <= 1e-12 * Math.max(1, now)) {
        done.set(key(task.step.kind, task.step.chunk, task.step.microBatch), now);
        running[r] = null;
      }
    }
  }
  if (next.some((n, r) => n < orders[r].length))
    throw new Error(`pipeline simulation: the schedule stalled at ${JSON.stringify(next)} (pp ${t.pp}, vpp ${t.vpp})`);
  return now;
}
