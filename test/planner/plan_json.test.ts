// The plan JSON contract: planToJson / planFromJson round trip, the subset a user gives, and messages
// that name the key and the value for each kind of bad input.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  fixedFromPlanJson,
  fixedToPlanJson,
  makeProblem,
  megatronGpt,
  plan,
  planFromJson,
  planToJson,
  resultJson,
  type Plan,
} from "../../src/parallel/planner/index.js";

const KEYS = [
  "dp",
  "tp",
  "pp",
  "vpp",
  "micro_batch",
  "grad_accum",
  "zero",
  "recompute",
  "recompute_layers",
  "sequence_parallel",
  "offload",
  "hybrid_shard",
];

const model = megatronGpt({ layers: 24, hidden: 2048, heads: 16, vocab: 51200, seq: 2048 });

test("searched plans round-trip through JSON, with every contract key", () => {
  const r = plan(makeProblem(model, 32, { gpusPerNode: 8, seqLen: 2048, globalBatch: 256 }), {}, { alternatives: 8 });
  const plans: Plan[] = [r.best!, ...r.alternatives].map((e) => e.plan);
  plans.push({
    ...plans[0]!,
    zero: 3,
    hybridShard: true,
    recompute: "full",
    recomputeLayers: 5,
    offload: "optimizer+params",
    sequenceParallel: true,
  });
  for (const p of plans) {
    const json = planToJson(p);
    assert.deepEqual(Object.keys(json), KEYS);
    assert.deepEqual(planFromJson(JSON.parse(JSON.stringify(json)), "test"), p);
    assert.deepEqual({ cp: 1, ...fixedFromPlanJson(json, "test") }, p, "cp is written only when a what-if sets it");
  }
  const out = resultJson(makeProblem(model, 32, { gpusPerNode: 8, seqLen: 2048, globalBatch: 256 }), r) as { plan: unknown };
  assert.deepEqual(out.plan, planToJson(r.best!.plan), "tessera plan --json uses the same contract");
});

test("a subset becomes --fix choices; normalizing puts the keys in contract order", () => {
  const fixed = fixedFromPlanJson({ zero: 3, hybrid_shard: true, tp: 2, micro_batch: 1, recompute: "full" }, "--plan");
  assert.deepEqual(fixed, { zero: 3, hybridShard: true, tp: 2, microBatch: 1, recompute: "full" });
  assert.equal(JSON.stringify(fixedToPlanJson(fixed)), '{"tp":2,"micro_batch":1,"zero":3,"recompute":"full","hybrid_shard":true}');
  assert.deepEqual(fixedFromPlanJson({}, "--plan"), {});
});

/** assert.throws matches a RegExp against "Error: message"; these anchor on the message itself. */
const messageMatches =
  (re: RegExp) =>
  (e: unknown): boolean =>
    e instanceof Error && re.test(e.message);

test("each kind of bad input gets a message naming the source, the key and the value", () => {
  const cases: Array<[unknown, RegExp]> = [
    [[1, 2], /^--plan: expected a JSON object with plan keys \(dp, tp, .*hybrid_shard, cp\), got \[1,2\]$/],
    [null, /^--plan: expected a JSON object .* got null$/],
    ["tp=2", /^--plan: expected a JSON object .* got "tp=2"$/],
    [
      { tp: 2, zeros: 1 },
      /^--plan: unknown key 'zeros' \(known: dp, tp, pp, vpp, micro_batch, grad_accum, zero, recompute, recompute_layers, sequence_parallel, offload, hybrid_shard, cp\)$/,
    ],
    [{ toString: 1 }, /unknown key 'toString'/],
    [{ dp: 0 }, /^--plan: dp must be a positive integer, got 0$/],
    [{ tp: 1.5 }, /^--plan: tp must be a positive integer, got 1.5$/],
    [{ pp: "2" }, /^--plan: pp must be a positive integer, got "2"$/],
    [{ micro_batch: -1 }, /micro_batch must be a positive integer, got -1/],
    [{ zero: 4 }, /^--plan: zero must be 0, 1, 2 or 3, got 4$/],
    [{ zero: "1" }, /zero must be 0, 1, 2 or 3, got "1"/],
    [{ recompute: "some" }, /^--plan: recompute must be "none", "selective" or "full", got "some"$/],
    [{ recompute_layers: -1 }, /recompute_layers must be a non-negative integer, got -1/],
    [{ sequence_parallel: "yes" }, /sequence_parallel must be true or false, got "yes"/],
    [{ offload: "params" }, /offload must be "none", "optimizer" or "optimizer\+params", got "params"/],
    [{ hybrid_shard: 1 }, /hybrid_shard must be true or false, got 1/],
    [{ recompute: "none", recompute_layers: 3 }, /recompute_layers 3 needs recompute "full", got "none"/],
    [{ zero: 0, hybrid_shard: true }, /hybrid_shard true needs zero 1, 2 or 3, got 0/],
  ];
  for (const [value, message] of cases)
    assert.throws(() => fixedFromPlanJson(value, "--plan"), messageMatches(message), JSON.stringify(value));
  assert.throws(
    () => fixedFromPlanJson({ vpp: 0 }, "enable_advanced_parallelization({ plan })"),
    messageMatches(/^enable_advanced_parallelization\(\{ plan \}\): vpp must be/),
  );
  assert.throws(
    () => planFromJson({ dp: 2, tp: 1 }, "plan.json"),
    messageMatches(
      /^plan.json: missing keys pp, vpp, micro_batch, grad_accum, zero, recompute, recompute_layers, sequence_parallel, offload, hybrid_shard$/,
    ),
  );
  const { hybrid_shard: _, ...old } = planToJson({
    dp: 2,
    tp: 1,
    pp: 1,
    vpp: 1,
    microBatch: 1,
    gradAccum: 1,
    zero: 1,
    recompute: "none",
    recomputeLayers: 0,
    sequenceParallel: false,
    offload: "none",
    hybridShard: false,
    cp: 1,
  });
  assert.throws(() => planFromJson(old, "plan.json"), /missing key hybrid_shard$/);
});
