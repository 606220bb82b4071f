// Step time of pipeline-parallel plans against one process on the same Llama, on CPU ranks over
// Gloo, with each stage's measured bubble and in-flight micro-batches beside the planner's. Not a
// timed test. Run: `node --import tsx bench/pipeline.ts [--hidden 256] [--layers 8] [--seq 128]
// [--batch 8] [--steps 8] [--warmup 2] [--plans one,pp2,pp4,pp2v2,dp2pp2]`; it starts one
// self-launched job per plan (the one line with TESSERA_PLAN) and prints a markdown table.
//
// Jobs of several ranks run one intra-op thread per rank (as `tessera run` sets), one process the
// libtorch default (every core). A step is forward (the whole schedule) + loss.backward() + AdamW step + zero_grad + loss.item(),
// started after a barrier; its time is the slowest rank's median over the timed steps. The bubble
// of a stage is the share of the schedule's wall time it did not compute (pipeline.ts PipelineStats);
// the planner's is the other stages' time for one micro-batch over the step (cost.ts), with every
// stage's time proportional to its layers (the output layer counted by planner/stages.ts's weight).
// In flight: the most micro-batches' activations a stage held at once, in units of its whole stage
// (layers held / its layers), beside the planner's inFlightLayers.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

interface Options {
  hidden: number;
  layers: number;
  seq: number;
  batch: number;
  steps: number;
  warmup: number;
  plans: string[];
}

const PLANS: Record<string, { ranks: number; plan: Record<string, number> | null }> = {
  one: { ranks: 1, plan: null },
  pp2: { ranks: 2, plan: { pp: 2, micro_batch: 1, grad_accum: 8 } },
  pp4: { ranks: 4, plan: { pp: 4, micro_batch: 1, grad_accum: 8 } },
  pp2v2: { ranks: 2, plan: { pp: 2, vpp: 2, micro_batch: 1, grad_accum: 8 } },
  dp2pp2: { ranks: 4, plan: { dp: 2, pp: 2, zero: 1, micro_batch: 1, grad_accum: 4 } },
};

const MARK = "PPBENCH ";

function parseArgs(argv: string[]): Options {
  const o: Options = { hidden: 256, layers: 8, seq: 128, batch: 8, steps: 8, warmup: 2, plans: Object.keys(PLANS) };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag}: needs a value`);
    if (flag === "--plans") o.plans = value.split(",");
    else if (
      flag === "--hidden" ||
      flag === "--layers" ||
      flag === "--seq" ||
      flag === "--batch" ||
      flag === "--steps" ||
      flag === "--warmup"
    )
      o[flag.slice(2) as "hidden"] = Number(value);
    else if (flag !== "--worker") throw new Error(`unknown flag ${flag}`);
  }
  return o;
}

interface Report {
  rank: number;
  stage: number;
  steps: number[];
  bubble: number | null;
  inFlight: number | null;
  predicted: { bubble: number; inFlight: number } | null;
}

async function worker(o: Options): Promise<void> {
  const { torch } = await import("../src/index.js");
  const { LlamaConfig, LlamaForCausalLM } = await import("../src/transformers/index.js");
  const { _applied_model } = await import("../src/launch/advanced_parallelization.js");
  const { chunkLayers, headLoad, inFlightLayers, stageLayers } = await import("../src/parallel/planner/stages.js");
  const { profileFromConfig } = await import("../src/parallel/planner/index.js");
  torch.moreh.option.enable_advanced_parallelization({ global_batch: o.batch, seq_len: o.seq, hardware: "cpu" });
  const config = new LlamaConfig({
    vocab_size: 4096,
    hidden_size: o.hidden,
    intermediate_size: 2 * o.hidden,
    num_hidden_layers: o.layers,
    num_attention_heads: 8,
    num_key_value_heads: 4,
    max_position_embeddings: o.seq,
    tie_word_embeddings: true,
  });
  torch.manual_seed(0);
  const model = LlamaForCausalLM.from_config(config);
  const optim = new torch.optim.AdamW(model.parameters(), { lr: 1e-4 });
  const dist = torch.distributed;
  const rank = dist.is_initialized() ? dist.get_rank() : 0;
  const barrier = (): void => {
    if (dist.is_initialized()) dist.barrier();
  };
  const g = new torch.Generator().manual_seed(1);
  const steps: number[] = [];
  const bubbles: number[] = [];
  let inFlight: number | null = null;
  model.train();
  for (let i = 0; i < o.warmup + o.steps; i++) {
    const ids = torch.randint(0, 4096, [o.batch, o.seq], { generator: g });
    barrier();
    const t0 = performance.now();
    const out = model.forward(ids, { labels: ids, use_cache: false });
    out.loss!.backward();
    optim.step();
    optim.zero_grad();
    out.loss!.item();
    const t = performance.now() - t0;
    const all = torch.tensor([t]);
    if (dist.is_initialized()) dist.all_reduce(all, dist.ReduceOp.MAX);
    if (i < o.warmup) continue;
    steps.push(all.item() as number);
    const stats = _applied_model(model)?.pipeline?.stats ?? null;
    if (stats !== null) {
      bubbles.push(1 - stats.busy / stats.wall);
      inFlight = stats.inFlight;
    }
  }
  const plan = torch.moreh.applied_plan();
  let predicted: Report["predicted"] = null;
  let stage = 0;
  if (plan !== null && plan.pp > 1) {
    stage = Math.floor(rank / (plan.tp * plan.dp));
    // Stage times proportional to their layers, the last also running the output layer (in layers, as the split counts it).
    const profile = profileFromConfig(config.to_dict());
    const chunks = chunkLayers(profile, plan);
    const head = headLoad(profile);
    const time = Array.from({ length: plan.pp }, (_, s) =>
      chunks.reduce((a, n, c) => a + (c % plan.pp === s ? n + (c === chunks.length - 1 ? head : 0) : 0), 0),
    );
    const slow = Math.max(...time);
    const bubble = (time.reduce((a, b) => a + b, 0) - slow) / plan.vpp;
    const own = (plan.grad_accum * slow + bubble - plan.grad_accum * time[stage]) / (plan.grad_accum * slow + bubble);
    const held = inFlightLayers(chunks, { pp: plan.pp, vpp: plan.vpp, gradAccum: plan.grad_accum }, stage);
    predicted = { bubble: own, inFlight: held / stageLayers(chunks, plan.pp)[stage] };
  }
  const median = (xs: number[]): number | null => (xs.length === 0 ? null : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]);
  const report: Report = { rank, stage, steps, bubble: median(bubbles), inFlight, predicted };
  console.log(MARK + JSON.stringify(report));
}

function driver(o: Options): void {
  const self = fileURLToPath(import.meta.url);
  const rows: string[] = [];
  let base: number | null = null;
  for (const name of o.plans) {
    const { ranks, plan } = PLANS[name];
    const env: NodeJS.ProcessEnv = { ...process.env, TESSERA_NPROC: String(ranks) };
    delete env.TESSERA_PLAN;
    // One intra-op thread per rank when several share the box, as `tessera run` sets (torchrun's default); one process uses them all.
    if (ranks > 1 && process.env.OMP_NUM_THREADS === undefined) env.OMP_NUM_THREADS = "1";
    if (plan !== null) env.TESSERA_PLAN = JSON.stringify(plan);
    const args = [
      "--import",
      "tsx",
      self,
      "--worker",
      "1",
      "--hidden",
      String(o.hidden),
      "--layers",
      String(o.layers),
      "--seq",
      String(o.seq),
      "--batch",
      String(o.batch),
      "--steps",
      String(o.steps),
      "--warmup",
      String(o.warmup),
    ];
    const r = spawnSync(process.execPath, args, { env, encoding: "utf8", timeout: 1_800_000 });
    const reports = r.stdout
      .split("\n")
      .map((l) => l.replace(/^\[rank\d+\]: /, ""))
      .filter((l) => l.startsWith(MARK))
      .map((l) => JSON.parse(l.slice(MARK.length)) as Report);
    if (r.status !== 0 || reports.length !== ranks) throw new Error(`${name}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
    reports.sort((a, b) => a.rank - b.rank);
    const step = [...reports[0].steps].sort((a, b) => a - b)[Math.floor(reports[0].steps.length / 2)];
    base ??= step;
    const pct = (x: number | null): string => (x === null ? "–" : `${(100 * x).toFixed(0)} %`);
    const stages = reports.filter((rep) => rep.rank % (ranks / Math.max(1, plan?.pp ?? 1)) === 0);
    const bubble = stages.map((rep) => `${pct(rep.bubble)} (${pct(rep.predicted?.bubble ?? null)})`).join(", ");
    const inFlight = stages.map((rep) => `${rep.inFlight ?? "–"} (${rep.predicted?.inFlight ?? "–"})`).join(", ");
    rows.push(
      `| ${name} | ${ranks} | ${plan === null ? "one process" : JSON.stringify(plan)} | ${step.toFixed(0)} | ${(step / base).toFixed(2)} | ${bubble} | ${inFlight} |`,
    );
  }
  console.log(
    `Llama hidden ${o.hidden}, ${o.layers} layers, vocab 4096 (tied), batch ${o.batch} × ${o.seq} tokens; median of ${o.steps} steps after ${o.warmup} warm-up\n`,
  );
  console.log(
    "| plan | ranks | TESSERA_PLAN | step ms | vs one process | bubble per stage, measured (planner) | in flight per stage, measured (planner) |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  for (const row of rows) console.log(row);
}

const argv = process.argv.slice(2);
const options = parseArgs(argv);
if (argv.includes("--worker")) await worker(options);
else driver(options);
