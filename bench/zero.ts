// Step time of Advanced Parallelization's ZeRO stages against a user's plain DistributedDataParallel
// on the same Llama, on CPU ranks over Gloo, and the model-state bytes each rank holds beside the
// planner's prediction. Not a timed test. Run: `node --import tsx bench/zero.ts [--ranks 2,4]
// [--hidden 256] [--layers 4] [--warmup 2] [--rounds 12] [--steps 3]` (the defaults took ~4-5
// minutes on a 2-core box); it starts one `tessera run` job per rank count and prints markdown tables.
//
// Inside one job every configuration is built side by side (same seed, same per-rank batches) and
// timed in interleaved rounds, so that the shared box's load drifts over all of them alike. The DDP
// model is built before the one line is first called, so nothing of Advanced Parallelization
// touches it; each ZeRO configuration re-calls the one line with its plan and builds its own model,
// whose plan is applied at its first use. A step is forward + backward + AdamW step + zero_grad +
// loss.item(), started after a barrier; its time is the slowest rank's.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { AdamW } from "../src/torch/optim/adam.js";
import type { Tensor } from "../src/torch/tensor.js";
import type { LlamaForCausalLM } from "../src/transformers/index.js";
import { freePort } from "../src/launch/free_port.js";

interface Options {
  ranks: number[];
  hidden: number;
  layers: number;
  vocab: number;
  seq: number;
  globalBatch: number;
  warmup: number;
  rounds: number;
  steps: number;
}

interface Config {
  name: string;
  /** null: plain DDP, no Advanced Parallelization. */
  plan: Record<string, unknown> | null;
}

const CONFIGS: Config[] = [
  { name: "DDP (user's, no AP)", plan: null },
  { name: "AP zero 0", plan: { zero: 0 } },
  { name: "AP zero 1", plan: { zero: 1 } },
  { name: "AP zero 2", plan: { zero: 2 } },
  { name: "AP zero 3", plan: { zero: 3 } },
  { name: "AP zero 3 + recompute full", plan: { zero: 3, recompute: "full" } },
];

interface Bytes {
  weights: number;
  gradients: number;
  optimizer: number;
}

interface ConfigReport {
  name: string;
  /** Slowest rank's time per timed step, ms. */
  steps: number[];
  /** Median of the slowest rank's forward, backward and optimizer-step times, ms. */
  phases: number[];
  /** Rank 0's bytes after the first step. */
  measured: Bytes;
  predicted: Bytes | null;
}

const MARK = "ZEROBENCH ";

function parseArgs(argv: string[]): Options {
  const o: Options = { ranks: [2, 4], hidden: 256, layers: 4, vocab: 4096, seq: 128, globalBatch: 8, warmup: 2, rounds: 12, steps: 3 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag}: needs a value`);
    if (flag === "--ranks") o.ranks = value.split(",").map(Number);
    else if (flag === "--hidden") o.hidden = Number(value);
    else if (flag === "--layers") o.layers = Number(value);
    else if (flag === "--rounds") o.rounds = Number(value);
    else if (flag === "--steps") o.steps = Number(value);
    else if (flag === "--warmup") o.warmup = Number(value);
    else throw new Error(`unknown flag ${flag}`);
  }
  return o;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function worker(o: Options): Promise<void> {
  const { torch } = await import("../src/index.js");
  const transformers = await import("../src/transformers/index.js");
  const { _applied_model } = await import("../src/launch/advanced_parallelization.js");
  const dist = torch.distributed;
  dist.init_process_group({ backend: "gloo" });
  const rank = dist.get_rank();
  const world = dist.get_world_size();
  if (o.globalBatch % world !== 0) throw new Error(`global batch ${o.globalBatch} does not split over ${world} ranks`);
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
  // This rank's share of the global batch; the same share for every configuration.
  const ids = torch.randint(0, o.vocab, [o.globalBatch / world, o.seq], { generator: new torch.Generator().manual_seed(100 + rank) });
  const bytesOf = (t: Tensor | null): number => (t === null ? 0 : t.numel() * t.element_size());

  interface Built {
    config: Config;
    forward: () => Tensor;
    model: LlamaForCausalLM;
    optim: AdamW;
    /** Captured now: the next configuration's call of the one line starts a fresh runtime state. */
    sharded: { stateBytes(): { weights: number; gradients: number } } | null;
    predicted: Bytes | null;
    measured: Bytes;
    times: number[];
    /** Per timed step: forward, backward, optimizer step (+ zero_grad, loss.item()), ms. */
    phases: number[][];
  }
  const built: Built[] = [];
  for (const c of CONFIGS) {
    if (c.plan !== null) {
      torch.moreh.option.enable_advanced_parallelization({
        plan: c.plan.recompute === "full" ? { ...c.plan, recompute_layers: o.layers } : c.plan,
        hardware: "cpu",
        seq_len: o.seq,
        global_batch: o.globalBatch,
      });
    }
    torch.manual_seed(0);
    const model = transformers.LlamaForCausalLM.from_config(config);
    model.train();
    let forward: () => Tensor;
    let optim: AdamW;
    if (c.plan === null) {
      const ddp = new torch.nn.parallel.DistributedDataParallel(model);
      optim = new torch.optim.AdamW(ddp.parameters(), { lr: 1e-4 });
      forward = () => (ddp.forward(ids, { labels: ids, use_cache: false }) as { loss: Tensor }).loss;
    } else {
      // First use: the plan is applied here, before the optimizer sees the parameters.
      optim = new torch.optim.AdamW(model.parameters(), { lr: 1e-4 });
      forward = () => model.forward(ids, { labels: ids, use_cache: false }).loss!;
    }
    const applied = c.plan === null ? null : _applied_model(model);
    const e = applied?.evaluation?.memory ?? null;
    built.push({
      config: c,
      forward,
      model,
      optim,
      times: [],
      phases: [[], [], []],
      sharded: applied?.sharded ?? null,
      predicted: e === null ? null : { weights: e.weights, gradients: e.gradients, optimizer: e.optimizer },
      measured: { weights: 0, gradients: 0, optimizer: 0 },
    });
  }

  const step = (b: Built, first: boolean): number[] => {
    dist.barrier();
    const t0 = process.hrtime.bigint();
    const loss = b.forward();
    const t1 = process.hrtime.bigint();
    loss.backward();
    const t2 = process.hrtime.bigint();
    if (first) {
      // Weights and gradients as this rank holds them between forward and step (the executor's own count when sharded).
      if (b.sharded !== null) Object.assign(b.measured, b.sharded.stateBytes());
      else
        for (const p of b.model.parameters()) {
          b.measured.weights += bytesOf(p);
          b.measured.gradients += bytesOf(p.grad);
        }
    }
    b.optim.step();
    b.optim.zero_grad();
    loss.item();
    const t3 = process.hrtime.bigint();
    const ms = (from: bigint, to: bigint): number => Number(to - from) / 1e6;
    if (first)
      for (const s of b.optim.state.values())
        for (const v of Object.values(s)) if (v instanceof torch.Tensor && v.dim() > 0) b.measured.optimizer += bytesOf(v);
    return [ms(t0, t3), ms(t0, t1), ms(t1, t2), ms(t2, t3)];
  };

  for (const b of built) for (let i = 0; i < o.warmup; i++) step(b, i === 0);
  for (let r = 0; r < o.rounds; r++) {
    // Rotate the order each round so that no configuration always follows the same one.
    for (let k = 0; k < built.length; k++) {
      const b = built[(k + r) % built.length];
      for (let i = 0; i < o.steps; i++) {
        const [total, ...phases] = step(b, false);
        b.times.push(total);
        phases.forEach((t, j) => b.phases[j].push(t));
      }
    }
  }
  const slowest = (xs: number[]): number[] => {
    const t = torch.tensor(xs, { dtype: torch.float64 });
    dist.all_reduce(t, dist.ReduceOp.MAX);
    return t.tolist() as number[];
  };
  const reports: ConfigReport[] = built.map((b) => ({
    name: b.config.name,
    steps: slowest(b.times),
    phases: b.phases.map((p) => median(slowest(p))),
    measured: b.measured,
    predicted: b.predicted,
  }));
  if (rank === 0) {
    console.log(
      MARK +
        JSON.stringify({
          world,
          torch: torch.version.__version__,
          threads: torch.get_num_threads(),
          reports,
          params: [...built[0].model.parameters()].reduce((n, p) => n + p.numel(), 0),
        }),
    );
  }
  dist.destroy_process_group();
}

interface JobResult {
  world: number;
  torch: string;
  threads: number;
  params: number;
  reports: ConfigReport[];
}

async function job(world: number, argv: string[]): Promise<JobResult> {
  const self = fileURLToPath(import.meta.url);
  const tessera = path.join(path.dirname(self), "..", "bin", "tessera.mjs");
  const port = String(await freePort());
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: "1" };
  for (const k of ["RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "TESSERA_PLAN", "TESSERA_NPROC"]) delete env[k];
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [tessera, "run", "--nproc-per-node", String(world), "--master-port", port, self, "--worker", ...argv],
      { env },
    );
    let found: JobResult | null = null;
    let log = "";
    child.stdout.on("data", (d: Buffer) => {
      log += d.toString();
      let nl: number;
      while ((nl = log.indexOf("\n")) >= 0) {
        const line = log.slice(0, nl);
        log = log.slice(nl + 1);
        const at = line.indexOf(MARK);
        if (at >= 0) found = JSON.parse(line.slice(at + MARK.length)) as JobResult;
        else process.stderr.write(`  ${line}\n`);
      }
    });
    child.stderr.on("data", (d: Buffer) => process.stderr.write(d));
    child.on("close", (code) =>
      code === 0 && found !== null ? resolve(found) : reject(new Error(`${world}-rank job exited with ${code}`)),
    );
  });
}

const mib = (b: number): string => (b / 2 ** 20).toFixed(1);

async function main(argv: string[]): Promise<void> {
  const o = parseArgs(argv);
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? os.cpus()[0]?.model ?? "unknown";
  const results: JobResult[] = [];
  const started = Date.now();
  for (const world of o.ranks) {
    console.error(`${world} ranks ...`);
    results.push(await job(world, argv));
  }
  const r0 = results[0];
  console.log(
    `machine: ${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}, torch ${r0.torch} (CPU), ${r0.threads} intra-op thread per rank; load average ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(" ")}`,
  );
  console.log(
    `model: Llama, hidden ${o.hidden}, ${o.layers} layers, vocab ${o.vocab}, ${(r0.params / 1e6).toFixed(2)}M parameters, fp32; seq ${o.seq}, global batch ${o.globalBatch}; AdamW`,
  );
  console.log(
    `timing: ${o.warmup} warm-up steps per configuration, then ${o.rounds} interleaved rounds of ${o.steps} steps; the slowest rank's step time; total ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
  );
  console.log("| ranks | configuration | median ms | min ms | max ms | ratio of medians | median of per-round ratios | ratio of minima |");
  console.log("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  // Per round: each configuration's median beside DDP's in the same round, so that load drifting
  // between rounds cancels out of the ratio.
  const rounds = (xs: number[]): number[] => Array.from({ length: o.rounds }, (_, r) => median(xs.slice(r * o.steps, (r + 1) * o.steps)));
  for (const res of results) {
    const ddp = res.reports[0].steps;
    const ddpRounds = rounds(ddp);
    for (const c of res.reports) {
      const m = median(c.steps);
      const paired = median(rounds(c.steps).map((t, r) => t / ddpRounds[r]));
      const cells = [
        m.toFixed(0),
        Math.min(...c.steps).toFixed(0),
        Math.max(...c.steps).toFixed(0),
        (m / median(ddp)).toFixed(2),
        paired.toFixed(2),
        (Math.min(...c.steps) / Math.min(...ddp)).toFixed(2),
      ];
      console.log(`| ${res.world} | ${c.name} | ${cells.join(" | ")} |`);
    }
  }
  console.log("\nWhere the time goes: median ms of the slowest rank per phase (optimizer: AdamW step + zero_grad + loss.item()):\n");
  console.log("| ranks | configuration | forward | backward | optimizer |");
  console.log("| ---: | --- | ---: | ---: | ---: |");
  for (const res of results)
    for (const c of res.reports) console.log(`| ${res.world} | ${c.name} | ${c.phases.map((t) => t.toFixed(0)).join(" | ")} |`);
  console.log("\nModel states per rank (MiB), measured on rank 0 after the first step / planner's prediction:\n");
  console.log("| ranks | configuration | weights | gradients | optimizer | total |");
  console.log("| ---: | --- | ---: | ---: | ---: | ---: |");
  for (const res of results) {
    for (const c of res.reports) {
      const m = c.measured;
      const p = c.predicted;
      const cell = (k: keyof Bytes): string => `${mib(m[k])}${p === null ? "" : ` / ${mib(p[k])}`}`;
      const total = m.weights + m.gradients + m.optimizer;
      const ptotal = p === null ? null : p.weights + p.gradients + p.optimizer;
      console.log(
        `| ${res.world} | ${c.name} | ${cell("weights")} | ${cell("gradients")} | ${cell("optimizer")} | ${mib(total)}${ptotal === null ? "" : ` / ${mib(ptotal)}`} |`,
      );
    }
  }
}

const args = process.argv.slice(2);
await (args[0] === "--worker" ? worker(parseArgs(args.slice(1))) : main(args));
