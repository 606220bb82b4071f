// Issue 19, findings 5 and 12: the tutorial's train.ts and the `tessera` command exit with a code
// that means something and a one-line message. Bad input exits 2 before any training; a NaN loss
// (--lr 1e6) stops the run with exit 1, keeps the last checkpoint, saves no model and no NaN weight;
// --skip-nonfinite-loss skips such steps instead.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { torch } from "../../src/index.js";
import { load_file } from "../../src/torch/serialization/index.js";
import { main as prepareMain } from "../../examples/finetune/prepare_dataset.js";
import { main as trainMain } from "../../examples/finetune/train.js";
import { main as inferenceMain } from "../../examples/finetune/inference.js";
import { repoRoot } from "../helpers/oracle.js";
import { quiet } from "./_tutorial_job.js";

torch.set_num_threads(1);
const dir = mkdtempSync(join(tmpdir(), "train-exits-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
const dataset = join(dir, "dataset.pt");

/** train.ts on the embedded default, writing under `name`, with `extra` flags. */
function train(name: string, extra: string[]): Promise<{ code: number; out: string; err: string }> {
  const at = join(dir, name);
  return quiet(() =>
    trainMain([
      "--dataset",
      dataset,
      "--save-model-dir",
      join(at, "model"),
      "--output-dir",
      at,
      "--tensorboard-dir",
      join(at, "runs"),
      "--eval-data",
      join(dir, "none.jsonl"),
      ...extra,
    ]),
  );
}

/** The error output is one line with no stack trace. */
function assertOneLine(err: string): void {
  assert.equal(err.split("\n").length, 1, `not one line:\n${err}`);
  assert.doesNotMatch(err, /\s+at .*:\d+:\d+/, "a stack trace");
}

test("set-up: a prepared dataset and a held-out file", async () => {
  assert.equal((await quiet(() => prepareMain(["--out", dataset]))).code, 0);
  writeFileSync(join(dir, "none.jsonl"), '{"prompt": "upper: ab -> ", "completion": "AB"}\n');
});

test("--seed 0 (the default) is accepted; a negative or fractional seed exits 2", async () => {
  const ok = await train("seed0", ["--seed", "0", "--max-steps", "1"]);
  assert.equal(ok.code, 0, ok.err);
  for (const seed of ["-1", "1.5", "x"]) {
    const r = await train(`seed${seed}`, [`--seed=${seed}`, "--max-steps", "1"]);
    assert.equal(r.code, 2, `--seed ${seed}: ${r.err}`);
    assert.match(r.err, /--seed .*: expected an integer >= 0/);
    assertOneLine(r.err);
  }
});

test("an existing file as --save-model-dir, --output-dir or --tensorboard-dir exits 2 before training", async () => {
  const file = join(dir, "a-file");
  writeFileSync(file, "not a folder");
  for (const flag of ["--save-model-dir", "--output-dir", "--tensorboard-dir"]) {
    const r = await quiet(() => trainMain(["--dataset", dataset, flag, file, "--max-steps", "1"]));
    assert.equal(r.code, 2, `${flag}: ${r.err}`);
    assert.match(r.err, new RegExp(`${flag} .*a-file is a file, not a folder`));
    assert.doesNotMatch(r.out, /Training/, `${flag}: training started`);
    assertOneLine(r.err);
  }
});

test("unreadable inputs (dataset, model folder, held-out file) exit 2 with one line naming the file", async () => {
  const junk = join(dir, "junk.pt");
  writeFileSync(junk, "this is not a torch.save file");
  const badModel = join(dir, "bad-model");
  mkdirSync(badModel);
  for (const f of ["tokenizer.json", "tokenizer_config.json"])
    copyFileSync(join(repoRoot, "examples/finetune/config", f), join(badModel, f));
  writeFileSync(join(badModel, "config.json"), '{"model_type": "llama", ');
  const badEval = join(dir, "bad.jsonl");
  writeFileSync(badEval, "{not json\n");
  const cases: Array<[string[], RegExp]> = [
    [["--dataset", junk], /--dataset .*junk\.pt: /],
    [["--dataset", dataset, "--model", badModel], /--model .*bad-model: .*config\.json is not valid JSON/],
    [["--dataset", dataset, "--eval-data", badEval], /--eval-data .*bad\.jsonl: /],
  ];
  for (const [args, message] of cases) {
    const r = await quiet(() => trainMain([...args, "--save-model-dir", join(dir, "never"), "--max-steps", "1"]));
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, message);
    assertOneLine(r.err);
    assert.ok(!existsSync(join(dir, "never")), "nothing written");
  }
});

test("inference.ts: a model folder that does not load, or a bad --max-new-tokens, exits 2 with one line", async () => {
  const broken = join(dir, "bad-model");
  const r = await quiet(() => inferenceMain(["--model-dir", broken]));
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /--model-dir .*bad-model: .*config\.json is not valid JSON/);
  assertOneLine(r.err);
  const zero = await quiet(() => inferenceMain(["--model-dir", broken, "--max-new-tokens", "0"]));
  assert.equal(zero.code, 2);
  assert.match(zero.err, /--max-new-tokens 0: expected a positive integer/);
});

test("tessera constructor / __proto__ / toString / hasOwnProperty: unknown command, exit 2", () => {
  for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
    const r = spawnSync(process.execPath, [join(repoRoot, "bin", "tessera.mjs"), name], { encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 2, `${name}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`tessera: unknown command '${name.replace(/[_$]/g, "\\$&")}'`));
    assert.doesNotMatch(r.stderr, /TypeError/);
  }
});

/** Every tensor of every safetensors file under `folder` is finite. */
function assertAllFinite(folder: string): number {
  let n = 0;
  for (const name of readdirSync(folder, { recursive: true }) as string[]) {
    if (!name.endsWith(".safetensors")) continue;
    for (const [key, t] of Object.entries(load_file(join(folder, name)))) {
      n++;
      if (t.is_floating_point()) assert.ok(torch.isfinite(t).all().item(), `${name}: ${key} holds a non-finite value`);
    }
  }
  return n;
}

test("--lr 1e6: the first non-finite loss stops the run with exit 1; the last checkpoint is kept, no model is saved", async () => {
  const r = await train("nan", ["--lr", "1e6", "--max-steps", "20", "--save-steps", "1", "--log-interval", "1"]);
  assert.equal(r.code, 1, r.err);
  // Either the loss of a step is non-finite, or (weight decay at lr 1e6) the weights diverge first.
  const m =
    /step (\d+): (the loss is (NaN|Infinity|-Infinity)|the weights hold NaN or infinite values \(the updates diverged\)); training stopped without saving the model \(the last checkpoint \(step (\d+)\) is kept\)/.exec(
      r.err,
    );
  assert.ok(m !== null, r.err);
  assertOneLine(r.err);
  const [bad, kept] = [Number(m[1]), Number(m[4])];
  assert.equal(kept, bad - 1, "the checkpoint of the step before is the last one");
  assert.ok(!existsSync(join(dir, "nan", "model")), "a model folder was saved");
  assert.deepEqual(
    readdirSync(join(dir, "nan")).filter((f) => f.startsWith(".")),
    [],
    "staging or temp folders left behind",
  );
  const checkpoints = readdirSync(join(dir, "nan")).filter((f) => f.startsWith("checkpoint-"));
  assert.ok(checkpoints.includes(`checkpoint-${kept}`), checkpoints.join(", "));
  for (const c of checkpoints) assert.ok(assertAllFinite(join(dir, "nan", c)) > 0, `${c} holds no tensors`);
});

test("a batch of padding only has a NaN loss (a mean over no token): it stops the run, or --skip-nonfinite-loss skips it", async () => {
  // Every row is padding: every step's loss is 0/0.
  const padding = join(dir, "padding.pt");
  torch.save(
    { input_ids: torch.zeros(32, 24, { dtype: torch.int64 }), attention_mask: torch.zeros(32, 24, { dtype: torch.int64 }) },
    padding,
  );
  const stop = await quiet(() =>
    trainMain([
      "--dataset",
      padding,
      "--save-model-dir",
      join(dir, "pad-stop", "model"),
      "--output-dir",
      join(dir, "pad-stop"),
      "--tensorboard-dir",
      join(dir, "pad-stop", "runs"),
      "--eval-data",
      join(dir, "none.jsonl"),
      "--max-steps",
      "3",
    ]),
  );
  assert.equal(stop.code, 1, stop.err);
  assert.match(
    stop.err,
    /^train\.ts: step 1: the loss is NaN; training stopped without saving the model \(no checkpoint was saved\)\. Lower --lr; or pass --skip-nonfinite-loss to skip such steps$/,
  );
  assert.ok(!existsSync(join(dir, "pad-stop", "model")));
  const skip = await quiet(() =>
    trainMain([
      "--dataset",
      padding,
      "--save-model-dir",
      join(dir, "pad-skip", "model"),
      "--output-dir",
      join(dir, "pad-skip"),
      "--tensorboard-dir",
      join(dir, "pad-skip", "runs"),
      "--eval-data",
      join(dir, "none.jsonl"),
      "--skip-nonfinite-loss",
    ]),
  );
  assert.equal(skip.code, 0, skip.err);
  // 32 rows, batches of 16: two steps, both skipped.
  assert.equal((skip.out.match(/Step \d: loss is NaN; step skipped \(--skip-nonfinite-loss\)/g) ?? []).length, 2);
  assert.ok(assertAllFinite(join(dir, "pad-skip", "model")) > 0);
});
