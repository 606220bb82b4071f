// Training-step benchmark: a Llama step (forward with labels, backward, AdamW, zero_grad with
// set_to_none) at three sizes — overhead-bound, the small Llama of the tutorial's scale, and a
// compute-bound one — timed per phase beside the same step in Python PyTorch + HF transformers
// (bench/train_step.py). Each round runs both sides in fresh processes, one after the other, in
// the same invocation; the table gives the median over rounds of each side's per-round median.
// Wall time per phase, and the whole step also in process CPU time (user + system, all threads,
// V8's GC threads included: a concurrent marker's CPU lands in whichever phase it overlaps, so only
// the step total is given in CPU). One intra-op thread by default: the machine is shared. With
// `--device cuda` it runs the CUDA sizes (Llama-2-7B's layer shape, bf16 unless --dtype says
// otherwise) beside PyTorch eager, synchronizing after each phase, and gives peak CUDA memory
// (max_memory_allocated) instead of RSS. `--mkldnn off` runs tessera's float32 CPU linear layers in
// MKL, as PyTorch does, instead of oneDNN (torch.backends.mkldnn.enabled = false): the like-for-like
// comparison. Not a timed test.
// Run: node --import tsx bench/train_step.ts [rounds] [--threads N] [--size name] [--device cpu|cuda] [--dtype name] [--mkldnn off]
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import path from "node:path";
import { PerformanceObserver } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { torch } from "../src/index.js";
import { LlamaConfig, LlamaForCausalLM } from "../src/transformers/index.js";
import { measureSelfArgs } from "./_measure_self.js";
import { CUDA_SIZES, SIZES, type Size } from "./llama_sizes.js";

const PHASES = ["step", "step_cpu", "forward", "backward", "optimizer", "zero_grad"] as const;
type Phases = Record<(typeof PHASES)[number], number[]> & { peak_mib: number; gc?: Record<string, number> };

const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const THREADS = Number(flag("--threads") ?? 1);
const DEVICE = flag("--device") ?? "cpu";
const CUDA = DEVICE.startsWith("cuda");
const DTYPE = flag("--dtype") ?? (CUDA ? "bfloat16" : "float32");
const MKLDNN = flag("--mkldnn") ?? "on";
if (MKLDNN !== "on" && MKLDNN !== "off") throw new Error(`--mkldnn takes on or off, got ${MKLDNN}`);
const ROUNDS = Number(argv.find((a, i) => /^\d+$/.test(a) && !argv[i - 1]?.startsWith("--")) ?? 3);
const sizes = CUDA ? CUDA_SIZES : SIZES;
const here = path.dirname(fileURLToPath(import.meta.url));
const python = process.env.TESSERA_PYTHON ?? path.join(here, "..", ".venv", "bin", "python");

async function measure(size: Size): Promise<Phases> {
  torch.set_num_threads(THREADS);
  torch.backends.mkldnn.enabled = MKLDNN !== "off";
  torch.manual_seed(0);
  const gc: Record<string, number> = {};
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = String((e as unknown as { detail?: { kind?: number } }).detail?.kind ?? "?");
      gc[kind] = (gc[kind] ?? 0) + 1;
    }
  });
  const model = LlamaForCausalLM.from_config(new LlamaConfig({ ...size.config, use_cache: false }), {
    dtype: DTYPE,
    device: DEVICE,
  });
  model.train();
  const opt = new torch.optim.AdamW(model.parameters(), { lr: 1e-4 });
  const ids = torch.randint(0, size.config.vocab_size, [size.batch, size.seq], { device: DEVICE });
  const out = { step: [], step_cpu: [], forward: [], backward: [], optimizer: [], zero_grad: [], peak_mib: 0 } as Phases;
  // A phase's time on CUDA is its kernels' too: wait for them before reading the clock.
  const sync = CUDA ? () => torch.cuda.synchronize() : () => undefined;
  const cpu = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e3;
  };
  for (let i = 0; i < size.warmup + size.steps; i++) {
    if (i === size.warmup) obs.observe({ entryTypes: ["gc"] });
    const c0 = cpu();
    const t0 = performance.now();
    const loss = model(ids, { labels: ids }).loss!;
    sync();
    const t1 = performance.now();
    loss.backward();
    sync();
    const t2 = performance.now();
    opt.step();
    sync();
    const t3 = performance.now();
    model.zero_grad({ set_to_none: true });
    sync();
    const t4 = performance.now();
    const c4 = cpu();
    loss.item();
    if (i >= size.warmup) {
      out.forward.push(t1 - t0);
      out.backward.push(t2 - t1);
      out.optimizer.push(t3 - t2);
      out.zero_grad.push(t4 - t3);
      out.step.push(t4 - t0);
      out.step_cpu.push(c4 - c0);
    }
  }
  out.peak_mib = CUDA ? torch.cuda.max_memory_allocated() / 2 ** 20 : process.resourceUsage().maxRSS / 1024;
  await new Promise((resolve) => setTimeout(resolve, 10)); // the observer's entries arrive on the event loop
  obs.disconnect();
  out.gc = gc;
  return out;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function run(cmd: string, args: string[]): Phases {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as Phases;
}

if (argv.includes("--measure")) {
  console.log(JSON.stringify(await measure(sizes[flag("--size")!])));
} else {
  const only = flag("--size");
  console.log(
    `machine: ${cpus().length}-core CPU (${cpus()[0]?.model.trim()}), node ${process.version}, torch ${torch.version.__version__}; ` +
      `device ${DEVICE}, ${DTYPE}; tessera's float32 CPU linear in ${MKLDNN === "off" ? "MKL (--mkldnn off)" : "oneDNN"}; ` +
      `${THREADS} intra-op thread(s) in both; wall ms per phase (step_cpu: process CPU ms per step), median of ${ROUNDS} interleaved rounds (each the median of its steps after warm-up)\n`,
  );
  console.log("| size | phase | tessera ms | Python ms | ratio |");
  console.log("| --- | --- | ---: | ---: | ---: |");
  for (const [name, size] of Object.entries(sizes)) {
    if (only !== undefined && only !== name) continue;
    const ts: Phases[] = [];
    const py: Phases[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      py.push(
        run(python, [
          path.join(here, "train_step.py"),
          JSON.stringify(size),
          String(size.steps),
          String(size.warmup),
          String(THREADS),
          DEVICE,
          DTYPE,
        ]),
      );
      ts.push(
        run(
          process.execPath,
          measureSelfArgs(
            import.meta.url,
            "--size",
            name,
            "--threads",
            String(THREADS),
            "--device",
            DEVICE,
            "--dtype",
            DTYPE,
            "--mkldnn",
            MKLDNN,
          ),
        ),
      );
    }
    for (const ph of PHASES) {
      const a = median(ts.map((x) => median(x[ph])));
      const b = median(py.map((x) => median(x[ph])));
      console.log(`| ${name} | ${ph} | ${a.toFixed(2)} | ${b.toFixed(2)} | ${(a / b).toFixed(2)} |`);
    }
    const a = median(ts.map((x) => x.peak_mib));
    const b = median(py.map((x) => x.peak_mib));
    console.log(`| ${name} | ${CUDA ? "peak CUDA memory" : "peak RSS"} MiB | ${a.toFixed(0)} | ${b.toFixed(0)} | ${(a / b).toFixed(2)} |`);
    console.error(
      `${name}: tessera GCs per round (kind: count; 1 minor, 4 major, 8 incremental, 16 weak callbacks): ${ts.map((x) => JSON.stringify(x.gc)).join(" ")}`,
    );
  }
}
