// Runs the tutorial's train.ts as a job (one process, or ranks under `tessera run`) in its own
// process group, with a hook that acts on it while it runs (kill it when a checkpoint appears,
// stop one rank, ...), and compares the model folders jobs leave.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import "../../src/torch/_generated/tensor_methods.js";
import { load_file } from "../../src/safetensors.js";
import { DEFAULT_HELDOUT_DATA } from "../../examples/finetune/lib/paths.js";
import { freePort } from "../../src/launch/free_port.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const TESSERA = path.join(root, "bin", "tessera.mjs");
const TRAIN = path.join(root, "examples", "finetune", "train.ts");

export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env };
  for (const k of [
    "RANK",
    "WORLD_SIZE",
    "LOCAL_RANK",
    "LOCAL_WORLD_SIZE",
    "MASTER_ADDR",
    "MASTER_PORT",
    "TESSERA_PLAN",
    "TESSERA_NPROC",
    "TESSERA_COLLECTIVE_TIMEOUT",
  ])
    delete e[k];
  return { ...e, ...extra };
}

/** The prepared dataset and a 2-prompt held-out file in `dir` (train.ts's inputs). */
export function prepareInputs(dir: string): { dataset: string; heldout: string } {
  const dataset = path.join(dir, "dataset.pt");
  const heldout = path.join(dir, "heldout.jsonl");
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(root, "examples/finetune/prepare_dataset.ts"), "--out", dataset], {
    cwd: root,
    env: cleanEnv(),
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  writeFileSync(heldout, readFileSync(DEFAULT_HELDOUT_DATA, "utf8").split("\n").slice(0, 2).join("\n"));
  return { dataset, heldout };
}

export interface Job {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  pid: number;
  stdout(): string;
  stderr(): string;
  /** Kills the whole job (launcher and workers), as a crash of the machine would. */
  killAll(signal: NodeJS.Signals): void;
  /** The pid of the worker with this RANK (a child of the launcher). */
  rankPid(rank: number): number | null;
}

/**
 * train.ts's arguments for a job that checkpoints every `saveSteps` steps into `out` (resuming from its
 * latest checkpoint when `resume`), saves its model into `model` and logs TensorBoard events into `runs`.
 */
export function checkpointingArgs(o: {
  maxSteps: number;
  saveSteps: number;
  out: string;
  model: string;
  runs: string;
  resume: boolean;
}): string[] {
  return [
    "--max-steps",
    String(o.maxSteps),
    "--save-steps",
    String(o.saveSteps),
    "--output-dir",
    o.out,
    ...(o.resume ? ["--resume-from-checkpoint", "latest"] : []),
    "--save-model-dir",
    o.model,
    "--tensorboard-dir",
    o.runs,
  ];
}

/**
 * train.ts with `args` (after the shared --dataset/--eval-data/--log-interval 1), run by `launcher`
 * (empty: one plain process; else `tessera run` flags, on a free master port). `during` is called
 * every 20 ms while it runs.
 */
export async function trainJob(
  launcher: string[],
  inputs: { dataset: string; heldout: string },
  args: string[],
  options: { env?: NodeJS.ProcessEnv; during?: (job: Running) => void; timeoutMs?: number } = {},
): Promise<Job> {
  const command =
    launcher.length === 0 ? ["--import", "tsx", TRAIN] : [TESSERA, "run", "--master-port", String(await freePort()), ...launcher, TRAIN];
  const child = spawn(
    process.execPath,
    [...command, "--dataset", inputs.dataset, "--eval-data", inputs.heldout, "--log-interval", "1", ...args],
    {
      cwd: root,
      env: cleanEnv(options.env),
      detached: true,
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const pid = child.pid!;
  const running: Running = {
    pid,
    stdout: () => stdout,
    stderr: () => stderr,
    killAll: (signal) => {
      try {
        process.kill(-pid, signal);
      } catch {
        // already gone
      }
    },
    rankPid: (rank) => {
      try {
        for (const task of readdirSync(`/proc/${pid}/task`)) {
          for (const c of readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim().split(/\s+/).filter(Boolean)) {
            if (readFileSync(`/proc/${c}/environ`, "utf8").split("\0").includes(`RANK=${rank}`)) return Number(c);
          }
        }
      } catch {
        // the job ended meanwhile
      }
      return null;
    },
  };
  const timer = options.during === undefined ? null : setInterval(() => options.during!(running), 20);
  const limit = setTimeout(() => running.killAll("SIGKILL"), options.timeoutMs ?? 400_000);
  return new Promise((resolve) => {
    child.on("close", (code, signal) => {
      if (timer !== null) clearInterval(timer);
      clearTimeout(limit);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export function assertExit(job: Job, code: number, what: string): void {
  assert.equal(job.code, code, `${what}: exit ${job.code} (signal ${job.signal})\n${job.stdout}\n${job.stderr}`);
}

/** A complete checkpoint folder (its metadata written) exists. */
export const checkpointDone = (dir: string): boolean => existsSync(path.join(dir, "tessera_checkpoint.json"));

interface Results {
  losses: Array<[number, number]>;
  resumed_from: string | null;
}

export function results(modelDir: string): Results {
  return JSON.parse(readFileSync(path.join(modelDir, "train_results.json"), "utf8")) as Results;
}

/** The step a job resumed from (its log line), or null. */
export function resumedStep(stdout: string): number | null {
  const m = /Resumed from \S+ at step (\d+)/.exec(stdout);
  return m === null ? null : Number(m[1]);
}

/** Every tensor of two saved model folders agrees within `rtol` (relative to the tensor's norm). */
export function assertSameWeights(a: string, b: string, rtol: number): void {
  const x = load_file(path.join(a, "model.safetensors"));
  const y = load_file(path.join(b, "model.safetensors"));
  assert.deepEqual(Object.keys(x).sort(), Object.keys(y).sort());
  for (const k of Object.keys(y)) {
    const diff = x[k].sub(y[k]).norm().item() as number;
    const norm = Math.max(y[k].norm().item() as number, 1e-12);
    assert.ok(diff <= rtol * norm, `${k}: ${a} and ${b} differ by ${diff / norm} (relative)`);
  }
}

/** The losses logged after step `after` agree within `rtol`. */
export function assertSameLossesAfter(resumed: Results, full: Results, after: number, rtol: number): void {
  const expected = full.losses.filter(([s]) => s > after);
  assert.deepEqual(
    resumed.losses.map(([s]) => s),
    expected.map(([s]) => s),
  );
  resumed.losses.forEach(([s, l], i) =>
    assert.ok(Math.abs(l - expected[i][1]) <= rtol * Math.abs(expected[i][1]), `step ${s}: ${l} vs ${expected[i][1]}`),
  );
}

/** Runs a tutorial step's main in-process with its console output captured: its exit code and what it printed. */
export async function quiet(run: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...a: unknown[]) => void out.push(a.join(" "));
  console.error = (...a: unknown[]) => void err.push(a.join(" "));
  try {
    return { code: await run(), out: out.join("\n"), err: err.join("\n") };
  } finally {
    [console.log, console.error] = [log, error];
  }
}
