// Pipeline parallelism under the one line (test/parallel/workers/train_pp.ts, an unchanged
// seed-style loop; one case backpropagates loss / 4, one goes through a GradScaler): on Gloo ranks
// each plan gives one process's loss and clipped gradient norm at every step (fp32, rel 1e-5), the same evaluation loss and greedy generations, a saved folder with
// one process's weights (rel 1e-5 over the model; per tensor too under SGD, whose update is the
// gradient — AdamW normalises each element's update, so the fp32 rounding of summing micro-batch
// gradients in another order shows up to 1e-4 in tensors with tiny gradients), and each rank holds
// its stage's parameters only and the micro-batches in flight the planner predicts (planner/stages.ts). Models: a Llama with tied embeddings (the tie
// spans the first and last stages) and Baichuan2 (ALiBi, z-loss).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { torch } from "../../src/index.js";
import { AutoModelForCausalLM } from "../../src/transformers/index.js";
import { inFlightMicroBatches } from "../../src/parallel/planner/stages.js";
import { assertOk, assertRelClose, here, runJob } from "./_job.js";

const script = path.join(here, "workers", "train_pp.ts");
const out = mkdtempSync(path.join(os.tmpdir(), "tessera-pp-"));
after(() => rmSync(out, { recursive: true, force: true }));

interface Stats {
  microBatches: number;
  wall: number;
  busy: number;
  inFlight: number;
}
interface Report {
  rank: number;
  losses: number[];
  norms: number[];
  stats: Array<Stats | null>;
  plan: Record<string, number | string | boolean>;
  parameters: number;
  eval: { loss: number; logits: number; shape: number[] };
  generated: number[][];
}

const singles = new Map<string, Report>();

function single(key: string, args: string[]): Report {
  const cached = singles.get(key);
  if (cached !== undefined) return cached;
  const r = runJob<Report>(script, [path.join(out, `single-${key}`), ...args], 1, null);
  assertOk(r, 1, `one process (${key})`);
  singles.set(key, r.reports[0]);
  return r.reports[0];
}

interface Case {
  name: string;
  ranks: number;
  plan: Record<string, number>;
  family?: string;
  layers?: number;
  /** The loss's backward: divided by this, or through a GradScaler. */
  divisor?: number | "scaler";
  optimizer?: "adamw" | "sgd";
}

const cases: Case[] = [
  { name: "pp2-1f1b", ranks: 2, plan: { pp: 2, micro_batch: 2, grad_accum: 4 }, divisor: 4 },
  { name: "pp4-1f1b", ranks: 4, plan: { pp: 4, micro_batch: 2, grad_accum: 4 }, divisor: "scaler" },
  { name: "pp2-vpp2", ranks: 2, plan: { pp: 2, vpp: 2, micro_batch: 2, grad_accum: 4 }, optimizer: "sgd" },
  // 3 layers on 2 stages: the planner's split is [2, 1] (the last stage also runs the output layer).
  { name: "pp2-uneven", ranks: 2, plan: { pp: 2, micro_batch: 1, grad_accum: 8 }, layers: 3 },
  { name: "dp2-pp2-zero1", ranks: 4, plan: { dp: 2, pp: 2, zero: 1, micro_batch: 1, grad_accum: 4 } },
  { name: "dp2-ga2-zero1", ranks: 2, plan: { dp: 2, zero: 1, micro_batch: 2, grad_accum: 2 } },
  // Tensor parallelism inside the stages: vocab-parallel embedding and head, tied across the stages.
  { name: "pp2-tp2", ranks: 4, plan: { pp: 2, tp: 2, vpp: 1, micro_batch: 2, grad_accum: 4 } },
  { name: "baichuan-pp2", ranks: 2, plan: { pp: 2, micro_batch: 2, grad_accum: 4 }, family: "baichuan" },
];

for (const c of cases) {
  test(
    `${c.name}: ${JSON.stringify(c.plan)} on ${c.ranks} ranks trains, evaluates and generates as one process`,
    { timeout: 400_000 },
    (t) => {
      const args = [c.family ?? "llama", String(c.layers ?? 4), String(c.divisor ?? 1), c.optimizer ?? "adamw"];
      const key = args.join("-");
      const want = single(key, args);
      const dir = path.join(out, c.name);
      const r = runJob<Report>(script, [dir, ...args], c.ranks, c.plan);
      assertOk(r, c.ranks, c.name);
      const pp = c.plan.pp ?? 1;
      // Ranks are numbered TP, then DP, then PP: rank r is stage floor(r / (dp·tp)).
      const perStage = c.ranks / pp;
      for (const rep of r.reports) {
        for (const [k, v] of Object.entries(c.plan)) assert.equal(rep.plan[k], v, `${c.name} rank ${rep.rank}: applied ${k}`);
        assertRelClose(rep.losses, want.losses, 1e-5, `${c.name} rank ${rep.rank} losses`);
        assertRelClose(rep.norms, want.norms, 1e-5, `${c.name} rank ${rep.rank} gradient norms`);
        assertRelClose([rep.eval.loss], [want.eval.loss], 1e-5, `${c.name} rank ${rep.rank} evaluation loss`);
        // With labels, tensor parallelism leaves the logits vocab-parallel (each rank its slice).
        if ((c.plan.tp ?? 1) === 1) {
          assertRelClose([rep.eval.logits], [want.eval.logits], 1e-5, `${c.name} rank ${rep.rank} evaluation logits`);
          assert.deepEqual(rep.eval.shape, want.eval.shape, `${c.name} rank ${rep.rank}: logits on every rank`);
        }
        assert.deepEqual(rep.generated, want.generated, `${c.name} rank ${rep.rank}: greedy generations`);
        const stage = Math.floor(rep.rank / perStage);
        for (const s of rep.stats) {
          assert.ok(s !== null, `${c.name}: the pipeline measured each step`);
          assert.equal(s.microBatches, c.plan.grad_accum);
          const planned = inFlightMicroBatches({ pp, vpp: c.plan.vpp ?? 1, gradAccum: c.plan.grad_accum }, stage);
          assert.equal(s.inFlight, planned, `${c.name} rank ${rep.rank}: micro-batches in flight`);
        }
        const last = rep.stats[rep.stats.length - 1]!;
        t.diagnostic(
          `${c.name} rank ${rep.rank} (stage ${stage}): last step ${(1000 * last.wall).toFixed(0)} ms, busy ${((100 * last.busy) / last.wall).toFixed(0)} %`,
        );
      }
      // Each pipeline's ranks hold their stages' parameters only: together, the model once.
      if ((c.plan.zero ?? 0) === 0 && (c.plan.tp ?? 1) === 1 && pp > 1) {
        const held = r.reports.filter((rep) => rep.rank % perStage === 0).reduce((n, rep) => n + rep.parameters, 0);
        assert.equal(held, want.parameters, `${c.name}: parameters over the stages`);
      }
      // The saved folder holds one process's weights.
      const load = (d: string): Record<string, torch.Tensor> => AutoModelForCausalLM.from_pretrained(d).state_dict();
      const a = load(dir);
      const b = load(path.join(out, `single-${key}`));
      assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), `${c.name}: saved keys`);
      let diff = 0;
      let norm = 0;
      for (const k of Object.keys(b)) {
        const d = a[k].sub(b[k]).norm().item() as number;
        const n = b[k].norm().item() as number;
        diff += d * d;
        norm += n * n;
        assert.ok(d <= (c.optimizer === "sgd" ? 1e-5 : 1e-4) * n, `${c.name}: saved ${k} differs from one process's by ${d / n}`);
      }
      assert.ok(Math.sqrt(diff / norm) <= 1e-5, `${c.name}: saved weights differ from one process's by ${Math.sqrt(diff / norm)}`);
    },
  );
}

test("plans the pipeline cannot run are refused before training", { timeout: 120_000 }, () => {
  const r = runJob<Report>(script, [path.join(out, "refused"), "llama", "4"], 4, { pp: 2, tp: 2, sequence_parallel: true });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /cannot apply sequence_parallel with pp 2 yet/);
});

test("a model whose first use is a forward runs the plan's forward at that call", { timeout: 300_000 }, () => {
  interface First {
    rank: number;
    logits: number;
    shape: number[];
    generated: number[][];
  }
  const worker = path.join(here, "workers", "first_forward.ts");
  const one = runJob<First>(worker, [], 1, null);
  assertOk(one, 1, "one process");
  for (const [ranks, plan] of [
    [2, { pp: 2 }],
    [2, { tp: 2 }],
    [4, { pp: 2, tp: 2 }],
  ] as const) {
    const r = runJob<First>(worker, [], ranks, plan);
    assertOk(r, ranks, JSON.stringify(plan));
    for (const rep of r.reports) {
      assert.deepEqual(rep.shape, one.reports[0].shape, `${JSON.stringify(plan)} rank ${rep.rank}: whole logits`);
      assertRelClose([rep.logits], [one.reports[0].logits], 1e-5, `${JSON.stringify(plan)} rank ${rep.rank}: logits`);
      assert.deepEqual(rep.generated, one.reports[0].generated, `${JSON.stringify(plan)} rank ${rep.rank}: generate`);
    }
  }
});
