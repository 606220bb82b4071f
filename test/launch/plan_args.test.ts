// `tessera run --plan`: inline JSON, a file of plan choices, a whole `tessera plan --json` output; bad
// plans refused at parse time (exit 2, one line, no worker started); TESSERA_PLAN in every process.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parsePlanArg, parseRunArgs } from "../../src/launch/args.js";
import { makeProblem, megatronGpt, plan, planToJson, resultJson } from "../../src/parallel/planner/index.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = path.join(root, "bin", "tessera.mjs");
const dir = mkdtempSync(path.join(os.tmpdir(), "tessera-plan-args-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: unknown): string {
  const p = path.join(dir, name);
  writeFileSync(p, typeof content === "string" ? content : JSON.stringify(content, null, 2));
  return p;
}

/** parseRunArgs's error message for a --plan value (the launcher prints it as one line). */
function planError(value: string): string {
  try {
    parseRunArgs(["--plan", value, "script.ts"]);
  } catch (e) {
    return (e as Error).message;
  }
  return "(no error)";
}

test("--plan inline JSON is validated and normalized (contract key order, no spaces)", () => {
  const a = parseRunArgs(["--plan", '{ "zero": 1, "tp": 2 }', "--nproc-per-node", "2", "train.ts", "--lr", "1"]);
  assert.equal(a.plan, '{"tp":2,"zero":1}');
  assert.equal(a.script, "train.ts");
  assert.deepEqual(a.scriptArgs, ["--lr", "1"]);
  assert.equal(parseRunArgs(['--plan={"hybrid_shard":true,"zero":3}', "train.ts"]).plan, '{"zero":3,"hybrid_shard":true}');
  assert.equal(parseRunArgs(["train.ts"]).plan, undefined);
});

test("--plan FILE: plan choices, or the whole `tessera plan --json` output (its best plan)", () => {
  assert.equal(
    parsePlanArg(file("choices.json", { micro_batch: 2, dp: 4, recompute: "full", recompute_layers: 3 })),
    '{"dp":4,"micro_batch":2,"recompute":"full","recompute_layers":3}',
  );
  const problem = makeProblem(megatronGpt({ layers: 24, hidden: 2048, heads: 16, vocab: 51200, seq: 2048 }), 16, {
    gpusPerNode: 8,
    seqLen: 2048,
    globalBatch: 64,
  });
  const result = plan(problem);
  const output = file("plan.json", resultJson(problem, result));
  assert.equal(parseRunArgs(["--plan", output, "train.ts"]).plan, JSON.stringify(planToJson(result.best!.plan)));
});

test("bad --plan values are refused with one line naming what is wrong", () => {
  const cases: Array<[string, RegExp]> = [
    ['{"tp": 2,', /^--plan: not valid JSON: /],
    ['{"tp":\n2,\n}', /^--plan: not valid JSON: /],
    ['{"zeros": 1}', /^--plan: unknown key 'zeros' \(known: dp, tp, /],
    ['{"zero": 4}', /^--plan: zero must be 0, 1, 2 or 3, got 4$/],
    [path.join(dir, "missing.json"), /^--plan: cannot read plan file '.*missing\.json'$/],
    [file("broken.json", "{ nope"), /^--plan: plan file '.*broken\.json' is not valid JSON: /],
    [file("array.json", "[1]"), /^--plan: plan file '.*array\.json' is not a JSON object$/],
    [
      file("bad.json", { offload: "params" }),
      /^--plan .*bad\.json: offload must be "none", "optimizer" or "optimizer\+params", got "params"$/,
    ],
    [
      file("nofit.json", { model: "m", fits: false, error: "does not fit" }),
      /^--plan .*nofit\.json: this `tessera plan --json` output has no plan \(nothing fits\)$/,
    ],
  ];
  for (const [value, message] of cases) {
    const error = planError(value);
    assert.match(error, message, value);
    assert.ok(!error.includes("\n"), `one line: ${JSON.stringify(error)}`);
  }
  assert.throws(() => parseRunArgs(["--plan"]), /option '--plan' needs a value/);
});

/** A script that leaves a marker file, then prints the plan it got. */
function showPlan(name: string): { script: string; marker: string } {
  const marker = path.join(dir, `${name}.ran`);
  const source = [
    `import { writeFileSync } from "node:fs";`,
    `writeFileSync(${JSON.stringify(marker)}, "yes");`,
    'console.log("TESSERA_PLAN=" + (process.env.TESSERA_PLAN ?? "unset"));',
  ].join("\n");
  return { script: file(`${name}.ts`, source), marker };
}

function run(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.TESSERA_PLAN;
  const r = spawnSync(process.execPath, [bin, "run", ...args], { cwd: root, encoding: "utf8", env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("every worker, and a single process, gets the normalized plan as TESSERA_PLAN", { timeout: 60_000 }, () => {
  const { script } = showPlan("show");
  const two = run("--nproc-per-node", "2", "--plan", '{"zero":1,"dp":2}', script);
  assert.equal(two.code, 0, two.stderr);
  for (const rank of [0, 1]) assert.ok(two.stdout.includes(`[rank${rank}]: TESSERA_PLAN={"dp":2,"zero":1}`), two.stdout);
  const one = run("--plan", file("one.json", { tp: 1 }), script);
  assert.equal(one.code, 0, one.stderr);
  assert.match(one.stdout, /TESSERA_PLAN=\{"tp":1\}/);
  assert.match(run(script).stdout, /^TESSERA_PLAN=unset$/m, "no --plan: a plain process without it");
});

test("a bad plan exits 2 with one line before any worker starts", { timeout: 60_000 }, () => {
  const { script, marker } = showPlan("never");
  const r = run("--nproc-per-node", "2", "--plan", '{"zero": "3"}', script);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'tessera run: --plan: zero must be 0, 1, 2 or 3, got "3"\n');
  assert.equal(r.stdout, "");
  assert.ok(!existsSync(marker), "the script never ran");
});
