// The planner against tessera's own executors on this machine: one `tessera run` job of N CPU ranks
// over Gloo builds each plan side by side (ZeRO 0-3, TP 2 and 4, PP 2 and 4) and times them in
// interleaved rounds, each round also taking `tessera plan --calibrate`'s measurements on the same
// ranks (calibrate_ranks.ts), so that the box's load drifts over the calibration and the plans alike;
// the calibration times the model's decoder layer at each applied plan's TP degree and micro-batch
// (the profile's `layers`, which the cost model charges in place of its count of the layer).
// The profile fitted to the median calibration predicts each applied plan (the planner's evaluate),
// compared with the slowest rank's median step time and the largest per-rank model states (weights +
// gradients + AdamW states).
// Not a timed test. Run: `node --import tsx bench/planner_measured.ts [--ranks 4] [--hidden 256]
// [--layers 4] [--rounds 4] [--steps 2] [--only tp]` (--only: the plans whose name contains the
// text; the calibration still runs on all ranks); prints a markdown table, which docs/planner-validation.md
// holds under the marker line `<!-- bench/planner_measured.ts -->` (planner_validation.ts keeps it).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import v8 from "node:v8";
import vm from "node:vm";
import { fileURLToPath } from "node:url";
import type { Tensor } from "../src/torch/tensor.js";
import { freePort } from "../src/launch/free_port.js";

interface Options {
  ranks: number;
  hidden: number;
  layers: number;
  vocab: number;
  seq: number;
  globalBatch: number;
  warmup: number;
  rounds: number;
  steps: number;
  /** Build only the plans whose name contains this text ("" for all). */
  only: string;
}

const configs = (o: Options): Array<{ name: string; plan: Record<string, unknown> }> => [
  // A rank's whole batch is one micro-batch (the data-parallel plans run it in one forward).
  ...([0, 1, 2, 3] as const).map((zero) => ({
    name: `zero ${zero} (dp ${o.ranks})`,
    plan: { zero, micro_batch: o.globalBatch / o.ranks, grad_accum: 1 },
  })),
  { name: "tp 2 × dp 2", plan: { tp: 2, dp: 2 } },
  { name: "tp 4", plan: { tp: 4, dp: 1 } },
  { name: "pp 2 × dp 2", plan: { pp: 2, dp: 2, grad_accum: 2, sequence_parallel: false } },
  { name: "pp 4", plan: { pp: 4, dp: 1, grad_accum: 4, sequence_parallel: false } },
];

const MARK = "PLANNERBENCH ";

function parseArgs(argv: string[]): Options {
  const o: Options = { ranks: 4, hidden: 256, layers: 4, vocab: 4096, seq: 128, globalBatch: 8, warmup: 2, rounds: 4, steps: 2, only: "" };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag}: needs a value`);
    const key = flag.replace(/^--/, "") as keyof Options;
    if (!(key in o)) throw new Error(`unknown flag ${flag}`);
    if (key === "only") o.only = value;
    else {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new Error(`${flag}: ${value} is not a number`);
      o[key] = n;
    }
  }
  if (!configs(o).some((c) => c.name.includes(o.only))) throw new Error(`--only ${o.only}: no plan's name contains it`);
  return o;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function worker(o: Options): Promise<void> {
  const { torch } = await import("../src/index.js");
  const transformers = await import("../src/transformers/index.js");
  const { _applied_model } = await import("../src/launch/advanced_parallelization.js");
  const { calibrationShapes, layerCalibrationShapes, profileFromTimings } = await import("../src/launch/calibrate.js");
  const { measureOnRanks } = await import("../src/launch/calibrate_ranks.js");
  const planner = await import("../src/parallel/planner/index.js");
  const cpuMemory = await import("../src/torch/cpu_memory.js");
  const dist = torch.distributed;
  dist.init_process_group({ backend: "gloo" });
  const rank = dist.get_rank();
  // Every CPU allocation from here on is counted: a plan's peak is what it holds between steps plus
  // the most a step allocates on top. Tensors no longer referenced are freed when V8 collects their
  // handles: a collection before each reading counts what is alive, not what awaits the collector.
  cpuMemory.track_cpu_memory();
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc") as () => void;
  const live = (): number => {
    gc();
    return cpuMemory.cpu_memory_allocated();
  };
  const config = new transformers.LlamaConfig({
    vocab_size: o.vocab,
    hidden_size: o.hidden,
    intermediate_size: Math.round((o.hidden * 8) / 3 / 64) * 64,
    num_hidden_layers: o.layers,
    num_attention_heads: o.hidden / 32,
    num_key_value_heads: o.hidden / 32,
    max_position_embeddings: o.seq,
    tie_word_embeddings: false,
  });
  const bytesOf = (t: Tensor | null): number => (t === null ? 0 : t.numel() * t.element_size());
  const built = configs(o)
    .filter((c) => c.name.includes(o.only))
    .map((c) => {
      const before = live();
      torch.moreh.option.enable_advanced_parallelization({ plan: c.plan, hardware: "cpu", seq_len: o.seq, global_batch: o.globalBatch });
      torch.manual_seed(0);
      const model = transformers.LlamaForCausalLM.from_config(config);
      model.train();
      // First use: the plan is applied here; captured now, since the next configuration's call of the
      // one line starts a fresh runtime state.
      const optim = new torch.optim.AdamW(model.parameters(), { lr: 1e-4 });
      const applied = _applied_model(model);
      const dp = applied?.evaluation?.plan.dp ?? 1;
      const ids = torch.randint(0, o.vocab, [o.globalBatch / dp, o.seq], { generator: new torch.Generator().manual_seed(100 + rank) });
      const b = { c, model, optim, applied, ids, times: [] as number[], cpu: [] as number[], lastCpu: 0, states: 0, held: 0, transient: 0 };
      // Warm up here, before the next plan is built, so that what this plan holds between steps is
      // the growth of the counted bytes over its build and warm-up.
      for (let i = 0; i < o.warmup; i++) step(b, i === 0);
      b.held = live() - before;
      // The warm-up's first step also creates the optimizer's states: not a step's transient.
      b.transient = 0;
      return b;
    });
  function step(
    b: {
      model: (typeof built)[number]["model"];
      optim: (typeof built)[number]["optim"];
      applied: (typeof built)[number]["applied"];
      ids: Tensor;
      lastCpu: number;
      states: number;
      transient: number;
    },
    first: boolean,
  ): number {
    const start = live();
    dist.barrier();
    cpuMemory.cpu_reset_peak_memory_stats();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const out = b.model.forward(b.ids, { labels: b.ids, use_cache: false });
    out.loss!.backward();
    if (first) {
      const sharded = b.applied?.sharded ?? null;
      if (sharded !== null) {
        const s = sharded.stateBytes();
        b.states += s.weights + s.gradients;
      } else for (const p of b.model.parameters()) b.states += bytesOf(p) + bytesOf(p.grad);
    }
    b.optim.step();
    b.optim.zero_grad();
    out.loss!.item();
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    b.lastCpu = (cpu.user + cpu.system) / 1000;
    b.transient = Math.max(b.transient, cpuMemory.cpu_max_memory_allocated() - start);
    if (first)
      for (const s of b.optim.state.values())
        for (const v of Object.values(s)) if (v instanceof torch.Tensor && v.dim() > 0) b.states += bytesOf(v);
    return ms;
  }
  const modelProfile = planner.profileFromConfig(config.to_dict(), "bench-llama");
  // The decoder layer at each applied plan's micro-batch and TP degree (and TP 1 at the smallest).
  const points = new Map<string, { tp: number; batch: number }>();
  for (const b of built) {
    const plan = b.applied?.evaluation?.plan;
    if (plan !== undefined) points.set(`${plan.tp}/${plan.microBatch}`, { tp: plan.tp, batch: plan.microBatch });
  }
  const smallest = Math.min(...[...points.values()].map((p) => p.batch));
  if (![...points.values()].some((p) => p.tp === 1)) points.set(`1/${smallest}`, { tp: 1, batch: smallest });
  const shapes = {
    ...calibrationShapes(modelProfile, (o.seq * o.globalBatch) / o.ranks),
    ...layerCalibrationShapes(
      modelProfile,
      o.seq,
      o.ranks,
      [...points.values()].sort((a, b) => a.tp - b.tp || a.batch - b.batch),
    ),
  };
  const calibrations: Array<ReturnType<typeof measureOnRanks>> = [];
  for (let r = 0; r < o.rounds; r++) {
    calibrations.push(measureOnRanks(shapes));
    for (let k = 0; k < built.length; k++) {
      const b = built[(k + r) % built.length]!;
      for (let i = 0; i < o.steps; i++) {
        b.times.push(step(b, false));
        b.cpu.push(b.lastCpu);
      }
    }
  }
  // The median of each measured quantity over the rounds.
  const mid = (f: (t: (typeof calibrations)[number]) => number): number => median(calibrations.map(f));
  const timings = {
    ...calibrations[0]!,
    gemm: shapes.gemm.map((_, i) => mid((t) => t.gemm[i]!)),
    attention: mid((t) => t.attention),
    copy: mid((t) => t.copy),
    allReduce: calibrations[0]!.allReduce.map(([n, bytes], i) => [n, bytes, mid((t) => t.allReduce[i]![2])] as [number, number, number]),
    allGather: calibrations[0]!.allGather!.map(([n, bytes], i) => [n, bytes, mid((t) => t.allGather![i]![2])] as [number, number, number]),
    reduceScatter: calibrations[0]!.reduceScatter!.map(
      ([n, bytes], i) => [n, bytes, mid((t) => t.reduceScatter![i]![2])] as [number, number, number],
    ),
    p2p: calibrations[0]!.p2p!.map(([bytes], i) => [bytes, mid((t) => t.p2p![i]![1])] as [number, number]),
    framework: [mid((t) => t.framework[0]), mid((t) => t.framework[1])] as [number, number],
    ...(calibrations[0]!.pipeline === undefined
      ? {}
      : { pipeline: { ...calibrations[0]!.pipeline, seconds: mid((t) => t.pipeline!.seconds) } }),
    ...(calibrations[0]!.dataParallel === undefined
      ? {}
      : { dataParallel: { ...calibrations[0]!.dataParallel, seconds: mid((t) => t.dataParallel!.seconds) } }),
    ...(calibrations[0]!.replicatedPipeline === undefined
      ? {}
      : { replicatedPipeline: { ...calibrations[0]!.replicatedPipeline, seconds: mid((t) => t.replicatedPipeline!.seconds) } }),
    concurrency: {
      cores: os.cpus().length,
      samples: calibrations[0]!.concurrency!.samples.map(
        ([busy], i) => [busy, mid((t) => t.concurrency!.samples[i]![1])] as [number, number],
      ),
    },
    ...(calibrations[0]!.layers === undefined
      ? {}
      : {
          layers: {
            model: calibrations[0]!.layers.model,
            samples: calibrations[0]!.layers.samples.map(
              ([tp, tokens], i) =>
                [tp, tokens, mid((t) => t.layers!.samples[i]![2]), mid((t) => t.layers!.samples[i]![3])] as [
                  number,
                  number,
                  number,
                  number,
                ],
            ),
          },
        }),
  };
  const base = { ...planner.hardwarePreset("cpu"), devicesPerNode: o.ranks };
  const profile = profileFromTimings(timings, shapes, base);
  const problemWith = (hardware: typeof profile) =>
    planner.makeProblem(modelProfile, o.ranks, {
      hardware,
      gpusPerNode: o.ranks,
      seqLen: o.seq,
      globalBatch: o.globalBatch,
      precision: "fp32",
    });
  const problem = problemWith(profile);
  // Each round's own calibration predicts that round's steps: the load other processes put on the
  // machine drifts less within a round than over the run.
  const roundProblems = calibrations.map((t) => problemWith(profileFromTimings(t, shapes, base)));
  const max = (xs: number[]): number[] => {
    const t = torch.tensor(xs, { dtype: torch.float64 });
    dist.all_reduce(t, dist.ReduceOp.MAX);
    return t.tolist() as number[];
  };
  const reports = built.map((b) => {
    const applied = b.applied?.evaluation ?? null;
    const e = applied === null ? null : planner.evaluate(problem, applied.plan);
    // The largest rank's peak, and what it held between steps and allocated on top in a step.
    const peaks = torch.tensor([b.held + b.transient], { dtype: torch.float64 });
    const all = Array.from({ length: o.ranks }, () => torch.zeros([1], { dtype: torch.float64 }));
    dist.all_gather(all, peaks);
    const parts = torch.tensor([b.held, b.transient], { dtype: torch.float64 });
    const allParts = Array.from({ length: o.ranks }, () => torch.zeros([2], { dtype: torch.float64 }));
    dist.all_gather(allParts, parts);
    const largest = all.map((t) => (t.tolist() as number[])[0]!).reduce((bi, x, i, xs) => (x > xs[bi]! ? i : bi), 0);
    const [held, onTop] = allParts[largest]!.tolist() as [number, number];
    const measuredStates = max([b.states])[0]!;
    const measuredPeak = held + onTop;
    const slowest = max(b.times);
    // The step's process CPU (main thread and Gloo's threads), summed over the ranks: what the cores
    // had to run, which other processes' load moves far less than the wall time.
    const cpuAll = torch.tensor([median(b.cpu)], { dtype: torch.float64 });
    dist.all_reduce(cpuAll, dist.ReduceOp.SUM);
    const roundErrors =
      applied === null
        ? null
        : roundProblems.map((p, r) => {
            const predicted = 1000 * planner.evaluate(p, applied.plan).prediction.step.total;
            return predicted / median(slowest.slice(r * o.steps, (r + 1) * o.steps)) - 1;
          });
    return {
      name: b.c.name,
      measuredMs: median(slowest),
      cpuMs: (cpuAll.tolist() as number[])[0]!,
      roundError: roundErrors === null ? null : median(roundErrors),
      measuredStates,
      measuredPeak,
      held,
      onTop,
      predictedMs: e === null ? null : 1000 * e.prediction.step.total,
      predictedParts: e === null ? null : e.prediction.step,
      predictedStates: e === null ? null : e.memory.weights + e.memory.gradients + e.memory.optimizer,
      // Live bytes, as the counting allocator sees them: the planner's total less its allocator
      // margin and the runtime's reserve (neither is a tensor).
      predictedPeak: e === null ? null : e.memory.total - e.memory.fragmentation - e.memory.reserved,
      plan: e?.plan ?? null,
    };
  });
  if (rank === 0)
    console.log(
      MARK +
        JSON.stringify({
          reports,
          profile: {
            gemm: profile.gemm,
            attention: profile.attentionEfficiency,
            memoryBandwidth: profile.memoryBandwidthBytesPerS,
            allReduce: profile.intraNode.byGroupSize,
            latency: profile.intraNode.latencyS,
            byKind: profile.intraNode.byKind,
            p2p: profile.intraNode.p2p,
            overhead: profile.overhead,
            sharedCores: profile.sharedCores,
            layers: profile.layers?.samples,
          },
        }),
    );
  dist.destroy_process_group();
}

async function main(argv: string[]): Promise<void> {
  const o = parseArgs(argv);
  const self = fileURLToPath(import.meta.url);
  const root = path.join(path.dirname(self), "..");
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: "1" };
  for (const k of ["RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "TESSERA_PLAN", "TESSERA_NPROC"]) delete env[k];
  const port = String(await freePort());
  const started = Date.now();
  const loadBefore = os.loadavg();
  {
    const { reports, profile } = await new Promise<{
      reports: Array<{
        name: string;
        measuredMs: number;
        cpuMs: number;
        roundError: number | null;
        measuredStates: number;
        predictedMs: number | null;
        predictedParts: Record<string, number> | null;
        predictedStates: number | null;
        measuredPeak: number;
        held: number;
        onTop: number;
        predictedPeak: number | null;
      }>;
      profile: unknown;
    }>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          path.join(root, "bin", "tessera.mjs"),
          "run",
          "--nproc-per-node",
          String(o.ranks),
          "--master-port",
          port,
          self,
          "--worker",
          ...argv,
        ],
        { env },
      );
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => process.stderr.write(d));
      child.on("close", (code) => {
        const line = out.split("\n").find((l) => l.includes(MARK));
        if (code === 0 && line !== undefined) resolve(JSON.parse(line.slice(line.indexOf(MARK) + MARK.length)));
        else reject(new Error(`job exited with ${code}: ${out.slice(-2000)}`));
      });
    });
    const cpu = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? os.cpus()[0]?.model ?? "unknown";
    const load = (l: number[]): string => l.map((x) => x.toFixed(1)).join(" ");
    console.log(
      `machine: ${cpu}, ${os.cpus().length} cores; ${o.ranks} Gloo ranks, 1 intra-op thread each; load average (1, 5, 15 min) ${load(loadBefore)} before, ${load(os.loadavg())} after`,
    );
    console.log(
      `model: Llama, hidden ${o.hidden}, ${o.layers} layers, vocab ${o.vocab}, fp32, seq ${o.seq}, global batch ${o.globalBatch}, AdamW; ${o.rounds} rounds of ${o.steps} steps per plan, a calibration per round; ${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
    console.log(`profile (median calibration): ${JSON.stringify(profile)}\n`);
    console.log(
      "| plan | predicted step ms | measured step ms (median, slowest rank) | error | error, each round's calibration (median) | step CPU ms, all ranks (median) | measured ÷ (CPU ÷ cores) | predicted model states MiB | measured (largest rank) | error | predicted peak MiB | measured peak (largest rank: held + a step's most) | error |",
    );
    console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    const mib = (b: number): string => (b / 2 ** 20).toFixed(2);
    for (const r of reports) {
      const e = (p: number | null, m: number): string => (p === null ? "—" : `${((100 * (p - m)) / m).toFixed(1)} %`);
      console.log(
        `| ${r.name} | ${r.predictedMs?.toFixed(0) ?? "—"} | ${r.measuredMs.toFixed(0)} | ${e(r.predictedMs, r.measuredMs)} | ${r.roundError === null ? "—" : `${(100 * r.roundError).toFixed(1)} %`} | ${r.cpuMs.toFixed(0)} | ${(r.measuredMs / (r.cpuMs / os.cpus().length)).toFixed(2)} | ${r.predictedStates === null ? "—" : mib(r.predictedStates)} | ${mib(r.measuredStates)} | ${e(r.predictedStates, r.measuredStates)} | ${r.predictedPeak === null ? "—" : mib(r.predictedPeak)} | ${mib(r.measuredPeak)} (${mib(r.held)} + ${mib(r.onTop)}) | ${e(r.predictedPeak, r.measuredPeak)} |`,
      );
    }
    // Where each prediction's time goes (cost.ts StepTime), beside the measurement.
    const parts = ["compute", "recompute", "tpComm", "cpComm", "ppComm", "bubble", "dpComm", "optimizer"];
    console.log(`\n| plan | ${parts.join(" | ")} | predicted ms | measured ms |`);
    console.log(`| --- | ${parts.map(() => "---:").join(" | ")} | ---: | ---: |`);
    for (const r of reports) {
      const p = r.predictedParts;
      if (p === null) continue;
      console.log(
        `| ${r.name} | ${parts.map((k) => (1000 * (p[k] ?? 0)).toFixed(1)).join(" | ")} | ${r.predictedMs!.toFixed(0)} | ${r.measuredMs.toFixed(0)} |`,
      );
    }
  }
}

const args = process.argv.slice(2);
await (args[0] === "--worker" ? worker(parseArgs(args.slice(1))) : main(args));
