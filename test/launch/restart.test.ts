// `tessera run --max-restarts` as torchrun's: a rank killed with SIGKILL, or stopped with SIGSTOP
// (noticed by the collective timeout), brings the group down; it is started again, the tutorial
// resumes from its latest checkpoint and ends with the model of an uninterrupted run. A job killed
// in the middle of a save leaves the previous checkpoint as the latest complete one.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseRunArgs } from "../../src/launch/args.js";
import { launch } from "../../src/launch/launcher.js";
import { latest_checkpoint } from "../../src/parallel/checkpoint/index.js";
import {
  assertExit,
  assertSameWeights,
  checkpointDone,
  prepareInputs,
  resumedStep,
  trainJob,
  type Running,
  checkpointingArgs,
} from "../finetune/_tutorial_job.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "tessera-restart-"));
let inputs: { dataset: string; heldout: string };
const STEPS = 9;
const reference = path.join(dir, "reference");
before(async () => {
  inputs = prepareInputs(dir);
  assertExit(
    await trainJob(["--nproc-per-node", "2"], inputs, [
      "--max-steps",
      String(STEPS),
      "--save-model-dir",
      reference,
      "--tensorboard-dir",
      path.join(dir, "runs"),
    ]),
    0,
    "uninterrupted",
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A 2-rank run with checkpoints every 3 steps that resumes from the latest; `hurt` acts on it once checkpoint-3 is complete. */
function restartable(name: string, launcher: string[], hurt: (job: Running) => boolean) {
  const out = path.join(dir, `${name}-out`);
  const model = path.join(dir, `${name}-model`);
  let hurtAt: number | null = null;
  let noticedAt: number | null = null;
  const done = trainJob(
    ["--nproc-per-node", "2", ...launcher],
    inputs,
    checkpointingArgs({ maxSteps: STEPS, saveSteps: 3, out, model, runs: path.join(dir, "runs"), resume: true }),
    {
      during: (job) => {
        if (hurtAt === null && checkpointDone(path.join(out, "checkpoint-3")) && hurt(job)) hurtAt = Date.now();
        if (hurtAt !== null && noticedAt === null && job.stderr().includes("stopped the others")) noticedAt = Date.now();
      },
    },
  );
  return { out, model, done, hurtAt: () => hurtAt, noticedAt: () => noticedAt };
}

const signalRank1 =
  (signal: NodeJS.Signals) =>
  (job: Running): boolean => {
    const pid = job.rankPid(1);
    if (pid === null) return false;
    process.kill(pid, signal);
    return true;
  };

test(
  "kill -9 of rank 1 with --max-restarts 1: the group restarts, resumes from the last checkpoint and ends as an uninterrupted run",
  { timeout: 600_000 },
  async () => {
    const run = restartable("killed", ["--max-restarts", "1"], signalRank1("SIGKILL"));
    const job = await run.done;
    assertExit(job, 0, "restarted job");
    assert.ok(run.hurtAt() !== null, "rank 1 was killed");
    assert.match(job.stderr, /tessera run: rank 1 was killed by SIGKILL; stopped the others/);
    assert.match(job.stderr, /tessera run: restarting the worker group \(restart 1 of 1\) after rank 1 was killed by SIGKILL/);
    const from = resumedStep(job.stdout);
    assert.ok(from !== null && from >= 3 && from < STEPS, `resumed from step ${from}`);
    assertSameWeights(run.model, reference, 1e-6);
  },
);

test("SIGSTOP of rank 1: the collective timeout notices it, the group restarts and finishes", { timeout: 600_000 }, async () => {
  const TIMEOUT_S = 10;
  const run = restartable("stopped", ["--max-restarts", "1", "--collective-timeout", String(TIMEOUT_S)], signalRank1("SIGSTOP"));
  const job = await run.done;
  assertExit(job, 0, "restarted job");
  assert.match(job.stderr, /tessera run: rank 1 was stopped \(hung\) when it failed; treated as dead/);
  assert.match(job.stderr, new RegExp(`Timed out waiting ${TIMEOUT_S * 1000}ms`));
  assert.match(job.stderr, /restarting the worker group \(restart 1 of 1\)/);
  // Noticed when the timeout expires (the other rank's collective fails), not before, and soon after.
  const noticed = (run.noticedAt()! - run.hurtAt()!) / 1000;
  assert.ok(noticed >= TIMEOUT_S - 1 && noticed <= TIMEOUT_S + 10, `noticed ${noticed} s after SIGSTOP (timeout ${TIMEOUT_S} s)`);
  assert.ok(resumedStep(job.stdout) !== null, "resumed from a checkpoint");
  assertSameWeights(run.model, reference, 1e-6);
});

test("a job killed in the middle of a save leaves the previous checkpoint as the latest complete one", { timeout: 600_000 }, async () => {
  const out = path.join(dir, "crash-out");
  const partial = path.join(out, ".checkpoint-6.partial");
  // Each save holds its commit for 3 s (fault injection): the job is killed while checkpoint-6's shards are written but not committed.
  const args = (resume: boolean): string[] =>
    checkpointingArgs({ maxSteps: STEPS, saveSteps: 3, out, model: path.join(dir, "crash-model"), runs: path.join(dir, "runs"), resume });
  const job = await trainJob(["--nproc-per-node", "2"], inputs, args(false), {
    env: { TESSERA_CHECKPOINT_COMMIT_DELAY_MS: "3000" },
    during: (j) => {
      // Both shards written (each is renamed into place whole): rank 0 now holds the commit for 3 s.
      if (["rank-00000.safetensors", "rank-00001.safetensors"].every((f) => existsSync(path.join(partial, f)))) j.killAll("SIGKILL");
    },
  });
  assert.equal(job.signal, "SIGKILL", `the job ended before it was killed\n${job.stdout}`);
  assert.ok(readdirSync(partial).includes("rank-00000.safetensors"), "killed mid-save: the shards were written");
  assert.ok(!existsSync(path.join(out, "checkpoint-6")));
  assert.equal(latest_checkpoint(out), path.join(out, "checkpoint-3"));
  const resumed = await trainJob(["--nproc-per-node", "2"], inputs, args(true));
  assertExit(resumed, 0, "resumed after the crash");
  assert.equal(resumedStep(resumed.stdout), 3);
  assert.ok(!existsSync(partial), "the next save cleans up what the crash left");
  assertSameWeights(path.join(dir, "crash-model"), reference, 1e-6);
});

test("--max-restarts is refused across nodes (one launcher cannot restart the others' workers)", async () => {
  const script = path.join(dir, "dataset.pt");
  await assert.rejects(
    launch(parseRunArgs(["--max-restarts", "1", "--nnodes", "2", "--node-rank", "0", script])),
    /--max-restarts works on one node only/,
  );
});
