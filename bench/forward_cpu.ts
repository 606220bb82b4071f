// The forward of a Llama training step in the main thread's own CPU time, beside PyTorch + HF
// transformers (bench/forward_cpu.py), at the small and compute sizes of bench/llama_sizes.ts.
// Wall time on a shared 2-core machine also counts other processes and V8's concurrent GC threads
// taking the core; the thread's CPU time (schedstat of the calling thread) is the work the forward
// itself does: the ops it dispatches, the binding, JS. Minor page faults in the forward count
// memory it had to take fresh from the kernel. schedstat advances at scheduler ticks, so the CPU
// figure is the mean over all timed steps (unbiased, not exact per step); wall is the median. Each
// step is the full training step (forward, backward, AdamW, zero_grad), so the forward runs in the
// memory state a training loop leaves; only the forward is timed. Rounds interleave the two sides,
// each in a fresh process. Not a timed test.
// Run: node --import tsx bench/forward_cpu.ts [rounds] [--size name]
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { torch } from "../src/index.js";
import { llamaTraining } from "./_llama_training.js";
import { measureSelfArgs } from "./_measure_self.js";
import { SIZES, type Size } from "./llama_sizes.js";

interface Forwards {
  wall: number[];
  thread_cpu: number[];
  faults: number[];
}

const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const ROUNDS = Number(argv.find((a, i) => /^\d+$/.test(a) && !argv[i - 1]?.startsWith("--")) ?? 3);
const here = path.dirname(fileURLToPath(import.meta.url));
const python = process.env.TESSERA_PYTHON ?? path.join(here, "..", ".venv", "bin", "python");
// More steps than train_step.ts: the CPU figure is a mean over scheduler ticks. Not the overhead
// size: its ~1 ms forward is below what tick-granular accounting resolves on a loaded machine
// (train_step.ts's process CPU per step covers it).
const STEPS: Record<string, number> = { small: 30, compute: 12 };

const threadCpuMs = (): number => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[0]) / 1e6;
const faults = (): number => process.resourceUsage().minorPageFault;

function measure(size: Size, steps: number): Forwards {
  const { model, opt, ids } = llamaTraining(size);
  const out: Forwards = { wall: [], thread_cpu: [], faults: [] };
  for (let i = 0; i < size.warmup + steps; i++) {
    const [f0, c0, t0] = [faults(), threadCpuMs(), performance.now()];
    const loss = model(ids, { labels: ids }).loss!;
    const [t1, c1, f1] = [performance.now(), threadCpuMs(), faults()];
    loss.backward();
    opt.step();
    model.zero_grad({ set_to_none: true });
    loss.item();
    if (i >= size.warmup) {
      out.wall.push(t1 - t0);
      out.thread_cpu.push(c1 - c0);
      out.faults.push(f1 - f0);
    }
  }
  return out;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

function run(cmd: string, args: string[]): Forwards {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as Forwards;
}

if (argv.includes("--measure")) {
  const name = flag("--size")!;
  console.log(JSON.stringify(measure(SIZES[name]!, STEPS[name]!)));
} else {
  const only = flag("--size");
  const load = [loadavg()[0]!];
  const rows: string[] = [];
  for (const [name, size] of Object.entries(SIZES)) {
    if (STEPS[name] === undefined || (only !== undefined && only !== name)) continue;
    const ts: Forwards[] = [];
    const py: Forwards[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      py.push(run(python, [path.join(here, "forward_cpu.py"), JSON.stringify(size), String(STEPS[name]), String(size.warmup)]));
      ts.push(run(process.execPath, measureSelfArgs(import.meta.url, "--size", name)));
      load.push(loadavg()[0]!);
    }
    const pair = (f: (x: Forwards) => number): [number, number] => [median(ts.map(f)), median(py.map(f))];
    const cells = ([a, b]: [number, number]): string => `${a.toFixed(2)} | ${b.toFixed(2)} | ${(a / b).toFixed(2)}`;
    const [fa, fb] = pair((x) => median(x.faults));
    rows.push(`| ${name} | ${cells(pair((x) => mean(x.thread_cpu)))} | ${cells(pair((x) => median(x.wall)))} | ${fa} | ${fb} |`);
  }
  console.log(
    `machine: ${cpus().length}-core CPU (${cpus()[0]?.model.trim()}), node ${process.version}, torch ${torch.version.__version__}; 1 intra-op thread in both; ` +
      `median of ${ROUNDS} interleaved rounds; 1-minute load average ${load.map((x) => x.toFixed(2)).join(" → ")}\n`,
  );
  console.log(
    "| size | forward main-thread CPU ms, tessera | Python | ratio | forward wall ms, tessera | Python | ratio | page faults per forward, tessera | Python |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const row of rows) console.log(row);
}
