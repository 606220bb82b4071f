// The tutorial's train.ts runs unchanged under each plan (`tessera run --nproc-per-node 2 --plan`,
// data parallel with ZeRO 0-3 and recompute, or tensor parallel):
// the logged losses are those of one process on the same global batch (fp32, rel 1e-5), held-out
// evaluation and the saved folder work on every plan, and the folder holds the same weights.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { torch } from "../../src/index.js";
import { AutoModelForCausalLM } from "../../src/transformers/index.js";
import { DEFAULT_HELDOUT_DATA } from "../../examples/finetune/lib/paths.js";
import { assertRelClose, here } from "./_job.js";

const root = path.resolve(here, "..", "..");
const dir = mkdtempSync(path.join(os.tmpdir(), "tessera-train-plans-"));
const dataset = path.join(dir, "dataset.pt");
const heldout = path.join(dir, "heldout.jsonl");
after(() => rmSync(dir, { recursive: true, force: true }));

function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ["RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "TESSERA_PLAN", "TESSERA_NPROC"])
    delete e[k];
  return e;
}

before(() => {
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(root, "examples/finetune/prepare_dataset.ts"), "--out", dataset], {
    env: env(),
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  writeFileSync(heldout, readFileSync(DEFAULT_HELDOUT_DATA, "utf8").split("\n").slice(0, 4).join("\n"));
});

interface Result {
  losses: Array<[number, number]>;
  skill_after: { exact_match: number } | null;
}

function train(name: string, launcher: string[]): { result: Result; stdout: string; model: string } {
  const model = path.join(dir, name);
  const args = [
    path.join(root, "examples/finetune/train.ts"),
    "--dataset",
    dataset,
    "--max-steps",
    "6",
    "--log-interval",
    "1",
    "--save-model-dir",
    model,
    "--tensorboard-dir",
    path.join(dir, `${name}-runs`),
    "--eval-data",
    heldout,
  ];
  const r = spawnSync(process.execPath, [...launcher, ...args], { env: env(), encoding: "utf8", timeout: 300_000 });
  assert.equal(r.status, 0, `${name}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  return { result: JSON.parse(readFileSync(path.join(model, "train_results.json"), "utf8")) as Result, stdout: r.stdout, model };
}

const plans: Array<Record<string, unknown>> = [
  { zero: 0 },
  { zero: 1 },
  { zero: 2 },
  { zero: 3 },
  { zero: 3, recompute: "full", recompute_layers: 1 },
  { tp: 2 },
  { pp: 2 },
];
let single: ReturnType<typeof train> | null = null;

for (const plan of plans) {
  test(`train.ts under --plan '${JSON.stringify(plan)}' on 2 ranks logs one process's losses`, { timeout: 300_000 }, () => {
    single ??= train("single", ["--import", "tsx"]);
    const name = Object.entries(plan)
      .map(([k, v]) => `${k}${v}`)
      .join("-");
    const run = train(name, [path.join(root, "bin", "tessera.mjs"), "run", "--nproc-per-node", "2", "--plan", JSON.stringify(plan)]);
    const tp = (plan.tp as number | undefined) ?? 1;
    const pp = (plan.pp as number | undefined) ?? 1;
    // A pipeline takes the planner's micro-batches (the 16-row batch in several); the rest run it whole.
    const expected =
      pp > 1
        ? `dp 1, tp 1, pp ${pp}, vpp \\d+, micro_batch \\d+, grad_accum \\d+, zero 0, `
        : `dp ${2 / tp}, tp ${tp}, pp 1, vpp 1, micro_batch ${16 / (2 / tp)}, grad_accum 1, zero ${(plan.zero as number | undefined) ?? 0}, `;
    assert.match(run.stdout, new RegExp(`Advanced Parallelization plan: ${expected}`));
    assert.equal(run.result.losses.length, 6);
    assertRelClose(
      run.result.losses.map(([, l]) => l),
      single.result.losses.map(([, l]) => l),
      1e-5,
      `${name} losses`,
    );
    assert.ok(run.result.skill_after !== null, "held-out evaluation ran");
    // The saved folder is the one a single process writes.
    const ids = torch.tensor([[1, 89, 84, 84, 73, 86, 30, 4]], { dtype: torch.int64 });
    const logits = (m: string): torch.Tensor => torch.no_grad(() => AutoModelForCausalLM.from_pretrained(m).forward(ids).logits);
    const a = logits(run.model);
    const b = logits(single.model);
    const rel = (a.sub(b).norm().item() as number) / (b.norm().item() as number);
    assert.ok(rel < 1e-5, `${name}: saved model's logits differ by ${rel} (relative norm)`);
  });
}
