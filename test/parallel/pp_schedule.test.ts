// The pipeline schedules the runtime runs (src/parallel/executors/pipeline_schedule.ts), simulated
// with sends that never block: every rank's order finishes (no deadlock), both ends of every link
// see its messages in the same order (what NCCL needs; Gloo also matches tags), and the bubble and
// the activations each rank holds are the planner's (planner/stages.ts inFlightMicroBatches,
// cost.ts's bubble, inFlightLayers for memory) — exactly on even stages; on the uneven splits
// stages.ts makes the step within 16 % and the layers in flight within the bound.
import { test } from "node:test";
import assert from "node:assert/strict";
import { pipelineOrder, sendsArrivedBy } from "../../src/parallel/executors/pipeline_schedule.js";
import { inFlightLayers, inFlightMicroBatches, splitLayers } from "../../src/parallel/planner/stages.js";

interface Simulation {
  makespan: number;
  /** Per rank: the most chunk-work units (forward time of the chunks' layers) held in flight at once. */
  peak: number[];
  /** Per link "a>b": the (chunk, micro-batch) messages in send order and in receive order. */
  sent: Map<string, string[]>;
  received: Map<string, string[]>;
}

/** Runs every rank's order as soon as its input is there; forward of chunk c takes fw[c], backward 2·fw[c]. */
function simulate(p: number, v: number, m: number, fw: number[]): Simulation {
  const chunks = p * v;
  const orders = Array.from({ length: p }, (_, r) => pipelineOrder(p, v, m, r));
  const finished = new Map<string, number>();
  const at = new Array<number>(p).fill(0);
  const clock = new Array<number>(p).fill(0);
  const live = new Array<number>(p).fill(0);
  const peak = new Array<number>(p).fill(0);
  const sent = new Map<string, string[]>();
  const received = new Map<string, string[]>();
  const log = (map: Map<string, string[]>, link: string, what: string): void => void map.set(link, [...(map.get(link) ?? []), what]);
  for (let progress = true; progress; ) {
    progress = false;
    for (let r = 0; r < p; r++) {
      while (at[r] < orders[r].length) {
        const { kind, chunk, microBatch } = orders[r][at[r]];
        const from = kind === "F" ? (chunk > 0 ? chunk - 1 : null) : chunk < chunks - 1 ? chunk + 1 : null;
        const dep = from === null ? (kind === "B" ? `F${chunk}/${microBatch}` : null) : `${kind}${from}/${microBatch}`;
        if (dep !== null && !finished.has(dep)) break;
        if (from !== null) log(received, `${kind}${from % p}>${r}`, `${from}/${microBatch}`);
        clock[r] = Math.max(clock[r], dep === null ? 0 : finished.get(dep)!) + (kind === "F" ? 1 : 2) * fw[chunk];
        finished.set(`${kind}${chunk}/${microBatch}`, clock[r]);
        const to = kind === "F" ? (chunk < chunks - 1 ? chunk + 1 : null) : chunk > 0 ? chunk - 1 : null;
        if (to !== null) log(sent, `${kind}${r}>${to % p}`, `${chunk}/${microBatch}`);
        live[r] += kind === "F" ? fw[chunk] : -fw[chunk];
        peak[r] = Math.max(peak[r], live[r]);
        at[r]++;
        progress = true;
      }
    }
  }
  assert.ok(
    at.every((n, r) => n === orders[r].length),
    `p=${p} v=${v} m=${m}: deadlock at ${JSON.stringify(at)}`,
  );
  return { makespan: Math.max(...clock), peak, sent, received };
}

/** The planner's step (cost.ts): the slowest stage's time per micro-batch × m plus the others' once, over v. */
function plannerStep(p: number, v: number, m: number, fw: number[]): number {
  const stage = Array.from({ length: p }, (_, s) => fw.reduce((sum, f, c) => sum + (c % p === s ? 3 * f : 0), 0));
  const slowest = Math.max(...stage);
  return m * slowest + (stage.reduce((a, b) => a + b, 0) - slowest) / v;
}

test("1F1B and interleaved orders finish, keep every link in order, and match the planner's bubble and in-flight micro-batches", () => {
  for (let p = 2; p <= 6; p++) {
    for (let v = 1; v <= 3; v++) {
      // Interleaving needs the micro-batches in whole groups of p (the planner's rule, Megatron's).
      for (const m of v === 1 ? [1, 2, p - 1, p, p + 1, 2 * p + 1, 3 * p] : [p, 2 * p, 3 * p]) {
        if (m < 1) continue;
        const fw = new Array<number>(p * v).fill(1);
        const sim = simulate(p, v, m, fw);
        assert.equal(sim.makespan, plannerStep(p, v, m, fw), `p=${p} v=${v} m=${m}: bubble`);
        for (const [link, order] of sim.sent) assert.deepEqual(sim.received.get(link), order, `p=${p} v=${v} m=${m}: link ${link}`);
        sim.peak.forEach((units, r) =>
          assert.equal(units / v, inFlightMicroBatches({ pp: p, vpp: v, gradAccum: m }, r), `p=${p} v=${v} m=${m} rank ${r}: in flight`),
        );
      }
    }
  }
});

test("on the planner's uneven splits the predicted step is at most 16 % over the simulated schedule", () => {
  let worst = 0;
  for (const layers of [3, 5, 7, 24, 30, 40]) {
    for (const head of [0.1, 0.6, 2.4]) {
      for (const [p, v] of [
        [2, 1],
        [3, 1],
        [4, 1],
        [5, 1],
        [2, 2],
        [3, 2],
      ] as const) {
        if (p * v > layers) continue;
        for (const m of [p, 2 * p, 8 * p]) {
          const split = splitLayers(layers, p * v, head);
          const fw = split.map((n, c) => n + (c === p * v - 1 ? head : 0));
          const sim = simulate(p, v, m, fw);
          const over = plannerStep(p, v, m, fw) / sim.makespan - 1;
          assert.ok(over >= -1e-9 && over <= 0.16, `${layers} layers [${split}] head ${head} p=${p} v=${v} m=${m}: ${over}`);
          worst = Math.max(worst, over);
        }
      }
    }
  }
  assert.ok(worst > 0, "some uneven split differs from the even-stage formula");
});

test("the layers a rank holds in flight are at most the planner's bound, and exactly it when the rank's chunks are even", () => {
  let tighter = 0;
  for (const layers of [5, 7, 8, 13, 24, 30]) {
    for (const head of [0.1, 1.8, 2.4]) {
      for (const [p, v] of [
        [2, 1],
        [3, 1],
        [2, 2],
        [3, 2],
        [2, 3],
        [4, 2],
      ] as const) {
        if (p * v > layers) continue;
        for (const m of [p, 2 * p, 4 * p]) {
          const split = splitLayers(layers, p * v, head);
          const sim = simulate(p, v, m, split);
          sim.peak.forEach((held, r) => {
            const bound = inFlightLayers(split, { pp: p, vpp: v, gradAccum: m }, r);
            const mine = split.filter((_, c) => c % p === r);
            const what = `${layers} layers [${split}] p=${p} v=${v} m=${m} rank ${r}`;
            if (mine.every((n) => n === mine[0])) assert.equal(held, bound, what);
            else assert.ok(held <= bound, `${what}: ${held} > ${bound}`);
            if (held < bound) tighter++;
          });
        }
      }
    }
  }
  assert.ok(tighter > 0, "some uneven split holds less than the bound");
});

test("the split gives every chunk a layer, balances the output layer's work, and leans uneven counts toward the middle", () => {
  assert.deepEqual(splitLayers(3, 2, 0.3), [2, 1]);
  assert.deepEqual(splitLayers(5, 4, 0.3), [1, 2, 1, 1]);
  assert.deepEqual(splitLayers(40, 2, 2.04), [21, 19]);
  assert.deepEqual(splitLayers(32, 4, 0.65), [8, 8, 8, 8]);
  assert.deepEqual(splitLayers(6, 4, 0.3), [1, 2, 2, 1]);
  assert.throws(() => splitLayers(3, 4, 0), /3 layers cannot fill 4 chunks/);
});

test("a send is waited on once a message its peer sent after taking it arrives (hand-computed), never before it was sent", () => {
  // 1F1B, pp 2, 3 micro-batches. Rank 0: F0/0 F0/1 B0/0 F0/2 B0/1 B0/2; rank 1: F1/0 B1/0 F1/1 B1/1 F1/2 B1/2.
  // Rank 1 takes F1/k and sends B0/k back in its next step; rank 0 takes B0/0 at its third step, and
  // its first send after that is F1/2; nothing of rank 0's follows B0/1 and B0/2.
  assert.deepEqual(
    [...sendsArrivedBy(2, 1, 3, 0)],
    [
      ["B0/0", ["F1/0"]],
      ["B0/1", ["F1/1"]],
      ["B0/2", ["F1/2"]],
    ],
  );
  assert.deepEqual([...sendsArrivedBy(2, 1, 3, 1)], [["F1/2", ["B0/0"]]]);
  // Interleaved, pp 2 × vpp 2, 2 micro-batches. Rank 0: F0/0 F0/1 F2/0 F2/1 B2/0 B2/1 B0/0 B0/1; rank 1:
  // F1/0 F1/1 F3/0 B3/0 F3/1 B3/1 B1/0 B1/1. Rank 1's F1/k sends F2/k; its B3/k (after F3/k) sends B2/k.
  assert.deepEqual(
    [...sendsArrivedBy(2, 2, 2, 0)],
    [
      ["F2/0", ["F1/0"]],
      ["F2/1", ["F1/1"]],
      ["B2/0", ["F3/0"]],
      ["B2/1", ["F3/1"]],
      ["B0/0", ["B1/0"]],
      ["B0/1", ["B1/1"]],
    ],
  );
  for (let p = 2; p <= 5; p++) {
    for (let v = 1; v <= 3; v++) {
      for (const m of v === 1 ? [1, p - 1, p, 2 * p + 1] : [p, 2 * p]) {
        if (m < 1) continue;
        for (let r = 0; r < p; r++) {
          const steps = pipelineOrder(p, v, m, r).map((x) => `${x.kind}${x.chunk}/${x.microBatch}`);
          // The step that receives message `kind chunk/mb` and the step that sent it, on this rank.
          const takes = (key: string): number => steps.indexOf(key);
          const sends = (key: string): number => {
            const [, kind, chunk, mb] = /^([FB])(\d+)\/(\d+)$/.exec(key)!;
            return steps.indexOf(`${kind}${Number(chunk) + (kind === "F" ? -1 : 1)}/${mb}`);
          };
          const released = [...sendsArrivedBy(p, v, m, r)];
          for (const [reply, sent] of released)
            for (const k of sent)
              assert.ok(sends(k) >= 0 && takes(reply) > sends(k), `p=${p} v=${v} m=${m} rank ${r}: ${k} released by ${reply}`);
          const all = released.flatMap(([, sent]) => sent);
          assert.equal(new Set(all).size, all.length, `p=${p} v=${v} m=${m} rank ${r}: a send released twice`);
        }
      }
    }
  }
});
