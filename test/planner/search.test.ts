import assert from "node:assert/strict";
import { test } from "node:test";
import { evaluate, loadModelProfile, makeProblem, modelPreset, parseFix, plan, resultJson } from "../../src/parallel/planner/index.js";
import { configPath } from "./reference.js";

const baichuan = loadModelProfile(configPath("Baichuan2-13B-Base"));
const problem = (gpus: number) => makeProblem(baichuan, gpus, { gpusPerNode: 8, seqLen: 1024, globalBatch: 256 });

test("the chosen plan is the fastest fitting one and the alternatives follow in order", () => {
  const r = plan(problem(16), {}, { alternatives: 4 });
  assert.ok(r.best !== undefined && r.best.fits);
  assert.equal(r.alternatives.length, 4);
  const times = [r.best, ...r.alternatives].map((e) => e.prediction.step.total);
  assert.deepEqual(
    [...times].sort((a, b) => a - b),
    times,
  );
  const p = r.best.plan;
  assert.equal(p.dp * p.tp * p.pp, 16);
  assert.equal(p.dp * p.microBatch * p.gradAccum, 256);
  // Re-evaluating the chosen plan gives the same prediction.
  assert.equal(evaluate(problem(16), p).prediction.step.total, r.best.prediction.step.total);
});

test("--fix holds the named choices; all of them fixed evaluates exactly one plan", () => {
  const fixed = parseFix("tp=8,pp=2,mbs=1,recompute=full,zero=1");
  const r = plan(problem(32), fixed);
  assert.ok(r.best !== undefined);
  // Baichuan2-13B's output layer is about 2 layers of work: the 40 layers split 21 + 19, and "full"
  // recomputes every layer of the larger stage.
  assert.deepEqual(
    [r.best.plan.tp, r.best.plan.pp, r.best.plan.microBatch, r.best.plan.recompute, r.best.plan.zero, r.best.plan.recomputeLayers],
    [8, 2, 1, "full", 1, 21],
  );
  const one = plan(problem(32), parseFix("dp=2,tp=8,pp=2,vpp=2,mbs=1,zero=1,recompute=full,sp=true,offload=none"), { alternatives: 3 });
  assert.equal(one.evaluated, 1);
  assert.equal(one.alternatives.length, 0);
  assert.equal(one.best?.plan.vpp, 2);
});

test("--fix errors name what was wrong", () => {
  assert.throws(() => parseFix("tp8"), /malformed 'tp8'/);
  assert.throws(() => parseFix("tq=8"), /unknown choice 'tq'/);
  assert.throws(() => parseFix("zero=4"), /zero=4: expected 0, 1, 2 or 3/);
  assert.throws(() => parseFix("recompute=some"), /expected none, selective or full/);
  assert.match(plan(problem(8), parseFix("tp=3")).invalid?.reason ?? "", /tp=3 does not divide 8 GPUs/);
  assert.match(plan(problem(16), parseFix("tp=16")).invalid?.reason ?? "", /tp=16 does not divide the model's 40 attention heads/);
  const smallNodes = makeProblem(baichuan, 16, { gpusPerNode: 4, seqLen: 1024, globalBatch: 256 });
  assert.match(plan(smallNodes, parseFix("tp=8")).invalid?.reason ?? "", /tp=8 spans nodes of 4 GPUs/);
  assert.match(plan(problem(64), parseFix("pp=64")).invalid?.reason ?? "", /pp=64 stages need at least one of the model's 40 layers each/);
  assert.match(
    plan(problem(32), parseFix("pp=16,vpp=3")).invalid?.reason ?? "",
    /pp·vpp=48 chunks need at least one of the model's 40 layers each/,
  );
  // A stage count that does not divide the layers splits them unevenly.
  assert.equal(plan(problem(24), parseFix("pp=3,tp=8")).best?.plan.pp, 3);
});

test("a model that cannot fit is refused with the smallest cluster that fits", () => {
  const r = plan(problem(1));
  assert.equal(r.best, undefined);
  assert.ok(r.smallestFit !== undefined && r.smallestFit.gpus > 1 && r.smallestFit.best.fits);
  const json = resultJson(problem(1), r);
  assert.equal(json.fits, false);
  assert.match(
    String(json.error),
    /no plan fits Baichuan2-13B-Base .* on 1 × H100-SXM-80GB: rule "memory per GPU ≤ 80 GiB .*\. The smallest cluster that fits is \d+ GPUs/,
  );
});

test("4,096 GPUs: the search completes and picks a valid plan", () => {
  const r = plan(makeProblem(modelPreset("llama-3-70b"), 4096, { gpusPerNode: 8, seqLen: 4096, globalBatch: 4096 }));
  assert.ok(r.best !== undefined && r.best.fits);
  assert.equal(r.best.plan.dp * r.best.plan.tp * r.best.plan.pp, 4096);
  assert.ok(r.best.plan.tp <= 8);
});

test("fixed choices that fit nowhere on the cluster point to the best free plan", () => {
  const r = plan(problem(8), parseFix("dp=8,zero=0,mbs=8"));
  assert.equal(r.best, undefined);
  assert.ok(r.freeFit !== undefined && r.freeFit.fits);
  assert.match(
    String(resultJson(problem(8), r).error),
    /no plan fits .* on 8 × H100-SXM-80GB: rule "memory per GPU ≤ 80 GiB .*\. Without the fixed choices the best plan is dp=/,
  );
});
