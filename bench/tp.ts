// Step time of tensor parallelism (tp 2, with and without sequence parallelism) on 2 CPU ranks over
// Gloo against one process, on the same Llama and global batch, with the bytes the planner predicts
// each rank's TP collectives move per step. Not a timed test. Run: `node --import tsx bench/tp.ts
// [--hidden 512] [--layers 4] [--seq 256] [--batch 4] [--warmup 2] [--steps 8]`; it starts one job
// per configuration (`TESSERA_NPROC` self-launch) and prints a markdown table.
//
// A step is forward + backward + AdamW step + zero_grad + loss.item(); its time is rank 0's, median
// over the timed steps. On one machine the ranks share its cores (and memory bandwidth), so this
// measures the executor's overhead and communication, not a speed-up a node of GPUs would give.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { torch } from "../src/index.js";
import { communicationVolume } from "../src/parallel/planner/communication.js";
import { hardwarePreset, makeProblem, planFromJson, profileFromConfig } from "../src/parallel/planner/index.js";
import { LlamaConfig, LlamaForCausalLM } from "../src/transformers/index.js";

interface Options {
  hidden: number;
  layers: number;
  seq: number;
  batch: number;
  warmup: number;
  steps: number;
}

function options(argv: string[]): Options {
  const o: Options = { hidden: 512, layers: 4, seq: 256, batch: 4, warmup: 2, steps: 8 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, "") as keyof Options;
    if (!(key in o) || !/^\d+$/.test(argv[i + 1] ?? "")) throw new Error(`bench/tp.ts: bad option ${argv[i]} ${argv[i + 1] ?? ""}`);
    o[key] = Number(argv[i + 1]);
  }
  return o;
}

interface Result {
  median_ms: number;
  losses: number[];
  plan: Record<string, unknown> | null;
  /** What the planner's TP collectives put on the wire per rank per step (ring: all-reduce 2(n−1)/n of the message, the others (n−1)/n). */
  predicted_tp_bytes: number;
}

/** One configuration's job (every rank runs this). */
function worker(o: Options): void {
  torch.moreh.option.enable_advanced_parallelization({ global_batch: o.batch, seq_len: o.seq, hardware: "cpu" });
  const config = new LlamaConfig({
    vocab_size: 8192,
    hidden_size: o.hidden,
    intermediate_size: 4 * o.hidden,
    num_hidden_layers: o.layers,
    num_attention_heads: o.hidden / 64,
    num_key_value_heads: o.hidden / 128,
    max_position_embeddings: o.seq,
  });
  torch.manual_seed(0);
  const model = LlamaForCausalLM.from_config(config);
  const ids = torch.randint(0, 8192, [o.batch, o.seq], { generator: new torch.Generator().manual_seed(1) });
  const loader = new torch.utils.data.DataLoader(new torch.utils.data.TensorDataset(ids), { batch_size: o.batch });
  const [batch] = [...(loader as Iterable<torch.Tensor[]>)][0];
  const optim = new torch.optim.AdamW(model.parameters(), { lr: 1e-4 });
  const times: number[] = [];
  const losses: number[] = [];
  for (let i = 0; i < o.warmup + o.steps; i++) {
    if (torch.distributed.is_initialized()) torch.distributed.barrier();
    const t0 = performance.now();
    const out = model.forward(batch, { labels: batch, use_cache: false });
    out.loss!.backward();
    optim.step();
    optim.zero_grad();
    losses.push(out.loss!.item() as number);
    if (i >= o.warmup) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const plan = torch.moreh.applied_plan();
  const world = torch.distributed.is_initialized() ? torch.distributed.get_world_size() : 1;
  const problem = makeProblem(profileFromConfig(config.to_dict()), world, {
    hardware: hardwarePreset("cpu"),
    seqLen: o.seq,
    globalBatch: o.batch,
    precision: "fp32",
  });
  const tp = plan === null ? null : communicationVolume(problem, planFromJson(plan, "bench")).tp;
  const n = plan === null ? 1 : (plan.tp as number);
  const wire = tp === null ? 0 : ((n - 1) / n) * (2 * tp.all_reduce + tp.all_gather + tp.reduce_scatter);
  const result: Result = { median_ms: times[Math.floor(times.length / 2)], losses, plan, predicted_tp_bytes: wire };
  if (!torch.distributed.is_initialized() || torch.distributed.get_rank() === 0) console.log(`RESULT ${JSON.stringify(result)}`);
}

function run(o: Options, ranks: number, plan: Record<string, unknown> | null): Result {
  const env: NodeJS.ProcessEnv = { ...process.env, TESSERA_NPROC: String(ranks), TESSERA_BENCH_TP_WORKER: "1" };
  if (plan === null) delete env.TESSERA_PLAN;
  else env.TESSERA_PLAN = JSON.stringify(plan);
  const argv = Object.entries(o).flatMap(([k, v]) => [`--${k}`, String(v)]);
  const r = spawnSync(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), ...argv], { env, encoding: "utf8" });
  const line = r.stdout
    .split("\n")
    .map((l) => l.replace(/^\[rank\d+\]: /, ""))
    .find((l) => l.startsWith("RESULT "));
  if (r.status !== 0 || line === undefined)
    throw new Error(`bench/tp.ts: ${ranks} ranks ${JSON.stringify(plan)} failed (exit ${r.status})\n${r.stderr}`);
  return JSON.parse(line.slice(7)) as Result;
}

const o = options(process.argv.slice(2));
if (process.env.TESSERA_BENCH_TP_WORKER === "1") {
  worker(o);
} else {
  const rows: Array<[string, number, Record<string, unknown> | null]> = [
    ["one process", 1, null],
    ["tp 2 + SP, 2 ranks", 2, { tp: 2, sequence_parallel: true }],
    ["tp 2, 2 ranks", 2, { tp: 2, sequence_parallel: false }],
  ];
  const results = rows.map(([name, ranks, plan]) => ({ name, ...run(o, ranks, plan) }));
  const base = results[0].median_ms;
  console.log(
    `Llama h ${o.hidden}, ${o.layers} layers, vocab 8192, seq ${o.seq}, global batch ${o.batch}, fp32, ${o.steps} timed steps after ${o.warmup}\n`,
  );
  console.log("| configuration | step ms (median) | vs one process | last loss | TP bytes on the wire per rank per step (planner) |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  for (const r of results) {
    console.log(
      `| ${r.name} | ${r.median_ms.toFixed(1)} | ${(r.median_ms / base).toFixed(2)}x | ${r.losses.at(-1)!.toFixed(5)} | ${Math.round(r.predicted_tp_bytes).toLocaleString("en-US")} |`,
    );
  }
}
