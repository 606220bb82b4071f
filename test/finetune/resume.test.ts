// The tutorial's checkpoints (HF Trainer's flags): a run killed after a checkpoint and resumed with
// --resume-from-checkpoint latest ends with the weights and logs the losses of an uninterrupted
// run, in one process and on 2 ranks; a 4-rank ZeRO-3 checkpoint resumes on 2 ranks and in one
// process with the same next loss; SIGTERM stops a run cleanly after saving, leaving the model
// folder as it was; tessera merge-checkpoint gives the folder the run saved.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { load_file } from "../../src/safetensors.js";
import { torch } from "../../src/index.js";
import {
  TESSERA,
  assertExit,
  assertSameLossesAfter,
  assertSameWeights,
  checkpointDone,
  cleanEnv,
  prepareInputs,
  resumedStep,
  results,
  trainJob,
  checkpointingArgs,
} from "./_tutorial_job.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "tessera-resume-"));
let inputs: { dataset: string; heldout: string };
before(() => (inputs = prepareInputs(dir)));
after(() => rmSync(dir, { recursive: true, force: true }));

const STEPS = 8;

/** An uninterrupted run, and one killed (all processes, SIGKILL) after its first checkpoint and resumed from the latest: same weights, same losses. */
async function killedAndResumed(name: string, launcher: string[]): Promise<void> {
  const full = path.join(dir, `${name}-full`);
  assertExit(
    await trainJob(launcher, inputs, ["--max-steps", String(STEPS), "--save-model-dir", full, "--tensorboard-dir", path.join(dir, "runs")]),
    0,
    `${name} uninterrupted`,
  );

  const out = path.join(dir, `${name}-out`);
  const model = path.join(dir, `${name}-model`);
  const args = checkpointingArgs({ maxSteps: STEPS, saveSteps: 3, out, model, runs: path.join(dir, "runs"), resume: true });
  const killed = await trainJob(launcher, inputs, args, {
    during: (job) => {
      if (checkpointDone(path.join(out, "checkpoint-3"))) job.killAll("SIGKILL");
    },
  });
  assert.equal(killed.signal, "SIGKILL", `${name}: the run ended before it was killed\n${killed.stdout}`);
  assert.ok(!existsSync(model), "a killed run leaves no model folder");

  const resumed = await trainJob(launcher, inputs, args);
  assertExit(resumed, 0, `${name} resumed`);
  const from = resumedStep(resumed.stdout);
  assert.ok(from !== null && from >= 3 && from < STEPS, `${name}: resumed from step ${from}\n${resumed.stdout}`);
  assertSameWeights(model, full, 1e-6);
  assertSameLossesAfter(results(model), results(full), from, 1e-6);
}

test("1 process: killed after a checkpoint and resumed (latest), the run ends as an uninterrupted one", { timeout: 600_000 }, async () => {
  await killedAndResumed("one", []);
  // The last checkpoint, merged into a plain folder, is the model folder the run saved.
  const merged = path.join(dir, "merged");
  const r = spawnSync(process.execPath, [TESSERA, "merge-checkpoint", path.join(dir, "one-out", `checkpoint-${STEPS}`), merged], {
    env: cleanEnv(),
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  const a = load_file(path.join(merged, "model.safetensors"));
  const b = load_file(path.join(dir, "one-model", "model.safetensors"));
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort());
  for (const k of Object.keys(b)) assert.ok(torch.equal(a[k], b[k]), k);
  assert.ok(readdirSync(merged).includes("tokenizer.json"));
});

test("2 ranks: killed after a checkpoint and resumed (latest), the run ends as an uninterrupted one", { timeout: 600_000 }, async () => {
  await killedAndResumed("two", ["--nproc-per-node", "2"]);
});

test(
  "a checkpoint saved on 4 ranks under ZeRO-3 resumes on 2 ranks and in 1 process with the same next loss",
  { timeout: 600_000 },
  async () => {
    const out = path.join(dir, "reshard");
    const run = async (launcher: string[], extra: string[], name: string): Promise<number> => {
      const model = path.join(dir, `reshard-${name}`);
      assertExit(
        await trainJob(launcher, inputs, [
          "--max-steps",
          "5",
          "--output-dir",
          out,
          "--save-model-dir",
          model,
          "--tensorboard-dir",
          path.join(dir, "runs"),
          ...extra,
        ]),
        0,
        name,
      );
      return results(model).losses.find(([s]) => s === 5)![1];
    };
    const four = await run(["--nproc-per-node", "4", "--plan", '{"zero":3}'], ["--save-steps", "4"], "four");
    const resume = ["--resume-from-checkpoint", path.join(out, "checkpoint-4")];
    const two = await run(["--nproc-per-node", "2"], resume, "two");
    const one = await run([], resume, "one");
    for (const [n, loss] of [
      [2, two],
      [1, one],
    ])
      assert.ok(Math.abs(loss - four) <= 1e-5 * four, `step 5 on ${n} rank(s): ${loss} vs ${four} on 4`);
  },
);

test(
  "SIGTERM with --save-on-interrupt: a checkpoint of the last step, exit 143, the model folder left as it was",
  { timeout: 600_000 },
  async () => {
    const out = path.join(dir, "term");
    const model = path.join(dir, "term-model");
    mkdirSync(model);
    writeFileSync(path.join(model, "config.json"), "{}");
    let sent = false;
    const job = await trainJob(
      [],
      inputs,
      [
        "--max-steps",
        "500",
        "--save-steps",
        "2",
        "--output-dir",
        out,
        "--save-on-interrupt",
        "--save-model-dir",
        model,
        "--tensorboard-dir",
        path.join(dir, "runs"),
      ],
      {
        during: (j) => {
          if (!sent && checkpointDone(path.join(out, "checkpoint-2"))) {
            sent = true;
            process.kill(j.pid, "SIGTERM");
          }
        },
      },
    );
    assertExit(job, 143, "SIGTERM");
    const stopped = Number(/Stopped by SIGTERM after step (\d+); resume with --resume-from-checkpoint/.exec(job.stdout)?.[1]);
    assert.ok(stopped >= 2 && stopped < 500, job.stdout);
    assert.ok(checkpointDone(path.join(out, `checkpoint-${stopped}`)), `checkpoint-${stopped} saved on the way out`);
    assert.deepEqual(readdirSync(model), ["config.json"], "the model folder is untouched");
    assert.ok(!readdirSync(dir).some((f) => f.startsWith(".term-model")), "no staging folder left behind");
  },
);
