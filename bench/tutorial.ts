// The tutorial's training throughput (`npm start`'s train.ts step: the embedded Llama from random
// weights, batches of 16 × 24 tokens, AdamW 1e-3, cosine schedule with 5 % warmup, one intra-op
// thread) beside its Python twin, PyTorch + HF transformers running the same loop on the same
// prepared dataset file (bench/tutorial.py). Rounds interleave the two sides, each in a fresh
// process, in this invocation; tessera runs under `tessera run`'s node flag.
//
// Tokens/s is every token of the batches (padding included, as the tutorial's log counts them) over
// the steps after the first log interval (its steps are the warm-up), timed from log line to log
// line: wall time, and process CPU time (user + system, all threads) which a shared machine's load
// disturbs less. The tessera side runs the tutorial's own `train()`; its skill evaluation and saving
// happen outside the timed steps. Not a timed test.
// Run: node --import tsx bench/tutorial.ts [rounds] [--steps N]
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { torch } from "../src/index.js";
import { prepare } from "../src/cli/prepare.js";
import { measureSelfArgs } from "./_measure_self.js";
import { train } from "../examples/finetune/train.js";
import { DEFAULT_CONFIG_DIR, DEFAULT_TRAIN_DATA } from "../examples/finetune/lib/paths.js";

/** main.ts's recipe for train.ts. */
const RECIPE = { batch_size: 16, block_size: 24, lr: 1e-3, epochs: 7, warmup_ratio: 0.05, log_interval: 10 };

const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const ROUNDS = Number(argv.find((a, i) => /^\d+$/.test(a) && !argv[i - 1]?.startsWith("--")) ?? 3);
const STEPS = Number(flag("--steps") ?? 200);
const here = path.dirname(fileURLToPath(import.meta.url));
const python = process.env.TESSERA_PYTHON ?? path.join(here, "..", ".venv", "bin", "python");

/** One side's timed steps: tokens, wall seconds and process CPU seconds after the warm-up interval. */
interface Timed {
  tokens: number;
  seconds: number;
  cpu_seconds: number;
}

/** Where the log lines of steps fall: [step, wall s, cpu s] at each "[Step N/T]" line. */
type Marks = Array<[number, number, number]>;

function timedFrom(marks: Marks, tokens_per_step: number): Timed {
  if (marks.length < 2) throw new Error(`need at least two log lines to time steps, got ${marks.length}`);
  const [s0, w0, c0] = marks[0]!;
  const [s1, w1, c1] = marks.at(-1)!;
  return { tokens: (s1 - s0) * tokens_per_step, seconds: w1 - w0, cpu_seconds: c1 - c0 };
}

async function measure(dataset: string, out: string): Promise<Timed> {
  // As main.ts on a CPU.
  torch.set_num_threads(1);
  const marks: Marks = [];
  const log = console.log;
  console.log = (...parts: unknown[]): void => {
    const m = /^\[Step (\d+)\//.exec(String(parts[0]));
    if (m !== null) {
      const u = process.cpuUsage();
      marks.push([Number(m[1]), performance.now() / 1e3, (u.user + u.system) / 1e6]);
    }
  };
  try {
    await train({
      model: null,
      dataset,
      batch_size: RECIPE.batch_size,
      block_size: RECIPE.block_size,
      lr: RECIPE.lr,
      lr_scheduler_type: "cosine",
      warmup_ratio: RECIPE.warmup_ratio,
      epochs: RECIPE.epochs,
      max_steps: STEPS,
      log_interval: RECIPE.log_interval,
      save_model_dir: path.join(out, "model"),
      use_lora: false,
      lora_r: 8,
      eval_data: null,
      tensorboard_dir: path.join(out, "runs"),
      seed: 0,
      output_dir: out,
      save_steps: null,
      save_total_limit: null,
      resume_from_checkpoint: null,
      save_on_interrupt: false,
      skip_nonfinite_loss: false,
    });
  } finally {
    console.log = log;
  }
  return timedFrom(marks, RECIPE.batch_size * RECIPE.block_size);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function run(cmd: string, args: string[]): Timed {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as Timed;
}

if (argv.includes("--measure")) {
  console.log(JSON.stringify(await measure(flag("--dataset")!, flag("--out")!)));
} else {
  const work = mkdtempSync(path.join(tmpdir(), "tessera-bench-tutorial-"));
  try {
    const dataset = path.join(work, "dataset.pt");
    const log = console.log;
    console.log = (): void => {};
    prepare({ model: DEFAULT_CONFIG_DIR, data: DEFAULT_TRAIN_DATA, block_size: RECIPE.block_size, out: dataset });
    console.log = log;
    const load = [loadavg()[0]!];
    const ts: Timed[] = [];
    const py: Timed[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      py.push(run(python, [path.join(here, "tutorial.py"), DEFAULT_CONFIG_DIR, dataset, JSON.stringify({ ...RECIPE, steps: STEPS })]));
      const out = path.join(work, `run-${r}`);
      ts.push(run(process.execPath, measureSelfArgs(import.meta.url, "--dataset", dataset, "--out", out, "--steps", String(STEPS))));
      load.push(loadavg()[0]!);
    }
    const rate = (t: Timed): number => t.tokens / t.seconds;
    const cpuRate = (t: Timed): number => t.tokens / t.cpu_seconds;
    console.log(
      `machine: ${cpus().length}-core CPU (${cpus()[0]?.model.trim()}), node ${process.version}, torch ${torch.version.__version__}; 1 intra-op thread in both; ` +
        `${STEPS} steps of ${RECIPE.batch_size} × ${RECIPE.block_size} tokens, timed after the first ${RECIPE.log_interval}; median of ${ROUNDS} interleaved rounds; ` +
        `1-minute load average ${load.map((x) => x.toFixed(2)).join(" → ")}\n`,
    );
    console.log("| tokens/s over | tessera | Python | ratio |");
    console.log("| --- | ---: | ---: | ---: |");
    for (const [name, f] of [
      ["wall time", rate],
      ["process CPU time", cpuRate],
    ] as const) {
      const [a, b] = [median(ts.map(f)), median(py.map(f))];
      console.log(`| ${name} | ${a.toFixed(0)} | ${b.toFixed(0)} | ${(a / b).toFixed(2)} |`);
    }
    console.log(
      `\nrounds, wall tokens/s: tessera ${ts.map((t) => rate(t).toFixed(0)).join(", ")}; Python ${py.map((t) => rate(t).toFixed(0)).join(", ")}`,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
