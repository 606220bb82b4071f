// The planner against tessera's own executors on this machine: `tessera plan --calibrate`'s profile
// (measured here, on the job's ranks at once), then one `tessera run` job of N CPU ranks over Gloo
// that builds each plan side by side (ZeRO 0-3, TP 2 and 4, PP 2 and 4), times them in interleaved
// rounds and compares the slowest rank's median step time and the largest per-rank model states
// (weights + gradients + AdamW states) with the planner's evaluation of the plan it applied.
// Not a timed test. Run: `node --import tsx bench/planner_measured.ts [--ranks 4] [--hidden 256]
// [--layers 4] [--rounds 6] [--steps 2]`; prints a markdown table for docs/planner-validation.md.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Tensor } from "../src/torch/tensor.js";
import { freePort } from "../src/launch/free_port.js";

interface Options { ranks: number; hidden: number; layers: number; vocab: number; seq: number; globalBatch: number; warmup: number; rounds: number; steps: number; hardware: string }

const CONFIGS: Array<{ name: string; plan: Record<string, unknown> }> = [
  { name: "zero 0 (dp 4)", plan: { zero: 0 } },
  { name: "zero 1 (dp 4)", plan: { zero: 1 } },
  { name: "zero 2 (dp 4)", plan: { zero: 2 } },
  { name: "zero 3 (dp 4)", plan: { zero: 3 } },
  { name: "tp 2 × dp 2", plan: { tp: 2, dp: 2 } },
  { name: "tp 4", plan: { tp: 4, dp: 1 } },
  { name: "pp 2 × dp 2", plan: { pp: 2, dp: 2, grad_accum: 2, sequence_parallel: false } },
  { name: "pp 4", plan: { pp: 4, dp: 1, grad_accum: 4, sequence_parallel: false } },
];

const MARK = "PLANNERBENCH ";

function parseArgs(argv: string[]): Options {
  const o: Options = { ranks: 4, hidden: 256, layers: 4, vocab: 4096, seq: 128, globalBatch: 8, warmup: 2, rounds: 6, steps: 2, hardware: "" };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag}: needs a value`);
    const key = flag.replace(/^--/, "") as keyof Options;
    if (!(key in o)) throw new Error(`unknown flag ${flag}`);
    (o as unknown as Record<string, unknown>)[key] = key === "hardware" ? value : Number(value);
  }
  return o;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function worker(o: Options): Promise<void> {
  const { torch } = await import("../src/index.js");
  const transformers = await import("../src/transformers/index.js");
  const { _applied_model } = await import("../src/launch/advanced_parallelization.js");
  const dist = torch.distributed;
  dist.init_process_group({ backend: "gloo" });
  const rank = dist.get_rank();
  const config = new transformers.LlamaConfig({
    vocab_size: o.vocab, hidden_size: o.hidden, intermediate_size: Math.round((o.hidden * 8) / 3 / 64) * 64, num_hidden_layers: o.layers,
    num_attention_heads: o.hidden / 32, num_key_value_heads: o.hidden / 32, max_position_embeddings: o.seq, tie_word_embeddings: false,
  });
  const bytesOf = (t: Tensor | null): number => (t === null ? 0 : t.numel() * t.element_size());
  const built = CONFIGS.map((c) => {
    torch.moreh.option.enable_advanced_parallelization({ plan: c.plan, hardware: o.hardware, seq_len: o.seq, global_batch: o.globalBatch });
    torch.manual_seed(0);
    const model = transformers.LlamaForCausalLM.from_config(config);
    model.train();
    // First use: the plan is applied here; captured now, since the next configuration's call of the
    // one line starts a fresh runtime state.
    const optim = new torch.optim.AdamW(model.parameters(), { lr: 1e-4 });
    const applied = _applied_model(model);
    const dp = applied?.evaluation?.plan.dp ?? 1;
    const ids = torch.randint(0, o.vocab, [o.globalBatch / dp, o.seq], { generator: new torch.Generator().manual_seed(100 + rank) });
    return { c, model, optim, applied, ids, times: [] as number[], states: 0 };
  });
  const step = (b: (typeof built)[number], first: boolean): number => {
    dist.barrier();
    const t0 = performance.now();
    const out = b.model.forward(b.ids, { labels: b.ids, use_cache: false });
    out.loss!.backward();
    if (first) {
      const sharded = b.applied?.sharded ?? null;
      if (sharded !== null) { const s = sharded.stateBytes(); b.states += s.weights + s.gradients; }
      else for (const p of b.model.parameters()) b.states += bytesOf(p) + bytesOf(p.grad);
    }
    b.optim.step();
    b.optim.zero_grad();
    out.loss!.item();
    const ms = performance.now() - t0;
    if (first) for (const s of b.optim.state.values()) for (const v of Object.values(s)) if (v instanceof torch.Tensor && v.dim() > 0) b.states += bytesOf(v);
    return ms;
  };
  for (const b of built) for (let i = 0; i < o.warmup; i++) step(b, i === 0);
  for (let r = 0; r < o.rounds; r++) for (let k = 0; k < built.length; k++) {
    const b = built[(k + r) % built.length]!;
    for (let i = 0; i < o.steps; i++) b.times.push(step(b, false));
  }
  const max = (xs: number[]): number[] => {
    const t = torch.tensor(xs, { dtype: torch.float64 });
    dist.all_reduce(t, dist.ReduceOp.MAX);
    return t.tolist() as number[];
  };
  const reports = built.map((b) => {
    const e = b.applied?.evaluation ?? null;
    return {
      name: b.c.name, measuredMs: median(max(b.times)), measuredStates: max([b.states])[0]!,
      predictedMs: e === null ? null : 1000 * e.prediction.step.total,
      predictedStates: e === null ? null : e.memory.weights + e.memory.gradients + e.memory.optimizer,
      plan: e?.plan ?? null,
    };
  });
  if (rank === 0) console.log(MARK + JSON.stringify(reports));
  dist.destroy_process_group();
}

async function main(argv: string[]): Promise<void> {
  const o = parseArgs(argv);
  const self = fileURLToPath(import.meta.url);
  const root = path.join(path.dirname(self), "..");
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), "tessera-planner-bench-"));
  try {
    const { calibrate } = await import("../src/launch/calibrate.js");
    const { hardwarePreset, profileFromConfig } = await import("../src/parallel/planner/index.js");
    const model = profileFromConfig({ model_type: "llama", hidden_size: o.hidden, intermediate_size: Math.round((o.hidden * 8) / 3 / 64) * 64, num_hidden_layers: o.layers, num_attention_heads: o.hidden / 32, vocab_size: o.vocab });
    const cal = await calibrate({ base: hardwarePreset("cpu"), model, seqLen: o.seq * (o.globalBatch / o.ranks), nproc: o.ranks, cacheDir });
    const hardware = path.join(cacheDir, "profile.json");
    const { writeFileSync } = await import("node:fs");
    writeFileSync(hardware, JSON.stringify(cal.profile));
    const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: "1" };
    for (const k of ["RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "TESSERA_PLAN", "TESSERA_NPROC"]) delete env[k];
    const port = String(await freePort());
    const reports = await new Promise<Array<{ name: string; measuredMs: number; measuredStates: number; predictedMs: number | null; predictedStates: number | null }>>((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(root, "bin", "tessera.mjs"), "run", "--nproc-per-node", String(o.ranks), "--master-port", port, self, "--worker", ...argv, "--hardware", hardware], { env });
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
    console.log(`machine: ${cpu}, ${os.cpus().length} cores; ${o.ranks} Gloo ranks, 1 intra-op thread each; load average ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}`);
    console.log(`model: Llama, hidden ${o.hidden}, ${o.layers} layers, vocab ${o.vocab}, fp32, seq ${o.seq}, global batch ${o.globalBatch}, AdamW; calibration ${cal.seconds.toFixed(0)} s (${cal.profile.name})\n`);
    console.log("| plan | predicted step ms | measured step ms (median, slowest rank) | error | predicted model states MiB | measured (largest rank) | error |");
    console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    const mib = (b: number): string => (b / 2 ** 20).toFixed(2);
    for (const r of reports) {
      const e = (p: number | null, m: number): string => (p === null ? "—" : `${((100 * (p - m)) / m).toFixed(1)} %`);
      console.log(`| ${r.name} | ${r.predictedMs?.toFixed(0) ?? "—"} | ${r.measuredMs.toFixed(0)} | ${e(r.predictedMs, r.measuredMs)} | ${r.predictedStates === null ? "—" : mib(r.predictedStates)} | ${mib(r.measuredStates)} | ${e(r.predictedStates, r.measuredStates)} |`);
    }
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
}

const args = process.argv.slice(2);
await (args[0] === "--worker" ? worker(parseArgs(args.slice(1))) : main(args));
