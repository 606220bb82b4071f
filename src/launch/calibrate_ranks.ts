// The timings of `tessera plan --calibrate`, taken on the ranks of a running job (its process group
// initialized): every rank runs the same shapes at once, then all-reduces, all-gathers and
// reduce-scatters over groups of 2, 4, … ranks, and point-to-point messages between pairs of ranks.
// calibrate_worker.ts runs it for the CLI; bench/planner_measured.ts inside its own job, between the
// plans it times, so that the machine's load drifts over both alike.
import os from "node:os";
import * as torch from "../torch/index.js";
import { scope } from "../torch/memory.js";
import { _unplanned } from "../torch/moreh.js";
import { LlamaConfig, LlamaForCausalLM } from "../transformers/index.js";
import { causalAttentionMask } from "../transformers/masking_utils.js";
import type { ProcessGroup } from "../torch/distributed/process_group.js";
import { applyPlan, type AppliedPlan } from "../parallel/apply.js";
import { dataParallelMesh } from "../parallel/mesh.js";
import { ReplicatedParams } from "../parallel/executors/data_parallel.js";
import { TensorParallelModel } from "../parallel/executors/tensor_parallel.js";
import { llamaPlan } from "../parallel/tp_plans/llama.js";
import type { MeasuredLayers } from "../parallel/planner/hardware.js";
import type { CalibrationShapes, FrameworkLayer, LayerShapes } from "../parallel/planner/measure.js";
import type { CalibrationTimings } from "./calibrate.js";
import { localDevice } from "./calibrate.js";

const dist = torch.distributed;

/** A piece of work to time: `run` returns the seconds of each of its parts but the last. */
interface Job {
  run: () => number[];
  /** Ranks that do not participate only join the agreement and the barriers. */
  participates: boolean;
}

const MIN_SAMPLE_S = 0.1;
const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

/**
 * Median seconds of each job's run ([the whole, then each part]) over a few samples, all ranks
 * starting each job's sample together. A sample repeats the run for at least MIN_SAMPLE_S (the count
 * agreed on by all ranks), so that the ranks really run at once and share the machine as a job's
 * ranks do. Each sample times every job in turn, so that the machine's load (other processes) drifts
 * over all the jobs alike.
 */
function timeJobs(jobs: Job[], samples = 3): number[][] {
  const cuda = torch.cuda.is_available();
  const sync = (): void => {
    if (cuda) torch.cuda.synchronize();
  };
  const reps = jobs.map((job) => {
    if (!job.participates) return 1;
    const t = performance.now();
    job.run();
    sync();
    return Math.max(1, Math.ceil(MIN_SAMPLE_S / Math.max((performance.now() - t) / 1000, 1e-6)));
  });
  const agreed = torch.tensor(reps, { dtype: torch.float64 });
  dist.all_reduce(agreed, dist.ReduceOp.MAX);
  const counts = agreed.tolist() as number[];
  const out: number[][][] = jobs.map(() => []);
  for (let i = 0; i < samples; i++) {
    jobs.forEach((job, j) => {
      const n = counts[j]!;
      dist.barrier();
      sync();
      const t0 = performance.now();
      const parts: number[] = [];
      for (let r = 0; r < n; r++) if (job.participates) job.run().forEach((x, k) => (parts[k] = (parts[k] ?? 0) + x));
      sync();
      out[j]!.push([(performance.now() - t0) / 1000 / n, ...parts.map((x) => x / n)]);
    });
  }
  return out.map((o) => o[0]!.map((_, k) => median(o.map((sample) => sample[k]!))));
}

/** Median seconds of one `fn` (timeJobs, one job). */
function time(fn: () => void, samples = 3, participates = true): number {
  const run = (): number[] => {
    fn();
    return [];
  };
  return timeJobs([{ run, participates }], samples)[0]![0]!;
}

/**
 * One decoder layer of a Llama with `model`'s shapes and a function that runs its forward and backward
 * on `batch` sequences and returns the forward's seconds. With a `tp` group (tp > 1) the layer runs
 * under tessera's tensor-parallel executor with sequence parallelism, as a TP plan runs it: this
 * rank's shard of the sequence in and out, the executor's splits, gathers and reduce-scatters over the
 * group included. The layer runs as the model runs it: rotary tables and the causal mask computed
 * once per forward of the model.
 */
function decoderLayer(
  model: LayerShapes["model"],
  tp: ProcessGroup | null,
  batch: number,
  dtype: torch.dtype,
  device: string,
): () => number[] {
  torch.manual_seed(0);
  const lm = LlamaForCausalLM.from_config(
    new LlamaConfig({
      vocab_size: 64,
      hidden_size: model.hidden,
      intermediate_size: model.ffn,
      num_hidden_layers: 1,
      num_attention_heads: model.heads,
      num_key_value_heads: model.kvHeads,
      head_dim: model.headDim,
      max_position_embeddings: model.seq,
    }),
  );
  lm.train();
  if (device !== "cpu") lm.to(device);
  // The first layer starts the sequence-parallel region: it takes the whole sequence and returns this rank's part.
  if (tp !== null) new TensorParallelModel(lm, llamaPlan(lm), { group: tp, kvReplicas: null, sequenceParallel: true });
  const layer = [...lm.model.layers][0]!;
  const x = torch.randn([batch, model.seq, model.hidden], { dtype, device, requires_grad: true });
  const grad = torch.randn([batch, model.seq / (tp?.size() ?? 1), model.hidden], { dtype, device });
  const positions = torch.arange(0, model.seq, { device }).unsqueeze(0);
  const [cos, sin] = lm.model.rotary_emb.forward(x, positions);
  const mask = causalAttentionMask({ attention_mask: null, q_len: model.seq, past_len: 0, dtype, device: x.device, sliding_window: null });
  return () =>
    scope(() => {
      const t0 = performance.now();
      const out = layer.forward(x, { cos, sin, mask, past_key_values: null });
      const forward = (performance.now() - t0) / 1000;
      out.backward(grad);
      return [forward];
    });
}

/**
 * A training step (forward, backward, AdamW step) of a Llama with `layers` decoder layers at `layer`'s
 * widths and tokens and a 64-token vocabulary: the framework's own time (measure.ts subtracts what the
 * cost model charges for the step).
 */
/** One AdamW training step of `model` on `ids` (labels = ids), as a user's loop runs it. */
function trainingStep(model: LlamaForCausalLM, ids: torch.Tensor): () => number[] {
  const optim = new torch.optim.AdamW(model.parameters(), { lr: 1e-4 });
  return () => {
    const out = model.forward(ids, { labels: ids, use_cache: false });
    out.loss!.backward();
    optim.step();
    optim.zero_grad();
    out.loss!.item();
    return [];
  };
}

/** The framework steps' narrow Llama (vocabulary 64) with `layers` of `layer`'s shape, seeded, in training mode. */
function frameworkModel(layer: FrameworkLayer, layers: number, device: string): LlamaForCausalLM {
  torch.manual_seed(0);
  const model = LlamaForCausalLM.from_config(
    new LlamaConfig({
      vocab_size: 64,
      hidden_size: layer.hidden,
      intermediate_size: layer.ffn,
      num_hidden_layers: layers,
      num_attention_heads: layer.heads,
      num_key_value_heads: layer.kvHeads ?? layer.heads,
      max_position_embeddings: layer.tokens,
    }),
  );
  model.train();
  if (device !== "cpu") model.to(device);
  return model;
}

function frameworkStep(layer: FrameworkLayer, layers: number, device: string): () => number[] {
  const model = frameworkModel(layer, layers, device);
  return trainingStep(model, torch.randint(0, 64, [layer.batch ?? 1, layer.tokens], { device }));
}

/**
 * A training step of the framework steps' model with one decoder layer per stage over `stages`
 * stages (1: not pipelined, one layer), `replicas` data-parallel replicas and `microBatches`
 * micro-batches of `layer`'s batch, applied as the one line applies a ZeRO-0 plan: through applyPlan
 * (a pipeline's flat units holding the micro-batches' gradients, the global loss) and, without a
 * pipeline, DDP's Reducer for the gradients (ReplicatedParams, as at the optimizer's creation).
 * Beside the plain steps: what the pipeline executor and data parallelism add (measure.ts).
 */
function plannedStep(layer: FrameworkLayer, stages: number, replicas: number, microBatches: number, device: string): () => number[] {
  const model = frameworkModel(layer, stages, device);
  const batch = layer.batch ?? 1;
  const plan: AppliedPlan = {
    dp: replicas,
    tp: 1,
    pp: stages,
    vpp: 1,
    micro_batch: batch,
    grad_accum: microBatches,
    zero: 0,
    recompute: "none",
    recompute_layers: 0,
    sequence_parallel: false,
    offload: "none",
    hybrid_shard: false,
  };
  const mesh = dataParallelMesh(false, false, 1, stages);
  const applied = applyPlan(model, plan, mesh, undefined, new Array<number>(stages).fill(1));
  if (applied.sharded === null) {
    const replicated = new ReplicatedParams();
    replicated.useGroup(mesh.dpGroup, mesh.dp);
    replicated.attach(applied.parameters);
  }
  return trainingStep(model, torch.randint(0, 64, [microBatches * batch, layer.tokens], { device }));
}

/** Micro-batches per stage of the calibration's pipeline step. */
const PIPELINE_MICRO_BATCHES_PER_STAGE = 1;

/** Samples of the framework steps, the layers and the busy-ranks work, interleaved (timeJobs). */
const INTERLEAVED_SAMPLES = 5;

/** The slowest rank's value: what a step waits for. */
function slowest(seconds: number): number {
  const t = torch.tensor([seconds], { dtype: torch.float64 });
  dist.all_reduce(t, dist.ReduceOp.MAX);
  return (t.tolist() as number[])[0]!;
}

/**
 * Times `shapes` on every rank of the initialized process group; every rank returns the slowest rank's
 * seconds. Inside a planned job (the one line on) its own models and optimizers stay outside the plan.
 */
export function measureOnRanks(shapes: CalibrationShapes): CalibrationTimings {
  return _unplanned(() => measure(shapes));
}

function measure(shapes: CalibrationShapes): CalibrationTimings {
  const rank = dist.get_rank();
  const world = dist.get_world_size();
  const cuda = torch.cuda.is_available();
  const device = cuda ? `cuda:${torch.cuda.current_device()}` : "cpu";
  const dtype = cuda ? torch.bfloat16 : torch.float32;
  // Each GEMM as a Linear layer runs it (F.linear: on CPU ranks a float32 product goes to oneDNN).
  const linear = ({ m, n, k }: { m: number; n: number; k: number }): (() => void) => {
    const a = torch.randn([m, k], { dtype, device });
    const w = torch.randn([n, k], { dtype, device });
    return () => void torch.nn.functional.linear(a, w);
  };
  const gemm = shapes.gemm.map((shape) => slowest(time(linear(shape))));
  const { batch, heads, seq, headDim } = shapes.attention;
  const [q, k, v] = [0, 1, 2].map(() => torch.randn([batch, heads, seq, headDim], { dtype, device, requires_grad: true })) as [
    torch.Tensor,
    torch.Tensor,
    torch.Tensor,
  ];
  const attention = slowest(time(() => torch.nn.functional.scaled_dot_product_attention(q, k, v, { is_causal: true }).sum().backward()));
  const src = torch.empty([shapes.copyBytes / 4], { dtype: torch.float32, device });
  const dst = torch.empty([shapes.copyBytes / 4], { dtype: torch.float32, device });
  const copy = slowest(time(() => void dst.copy_(src)));
  // The framework's own time: training steps of a Llama with 1 and 2 layers at the model's widths
  // and tokens, else too narrow for its math to count. CPU ranks: the model's decoder layer at each
  // point (every rank running it at once), and the work that ranks sharing the cores run with 1 … all
  // of them busy (the others wait at the barrier) — the decoder layer where there is one to time, else
  // the widest GEMM. All timed interleaved, sample by sample, so that other processes' load drifts
  // over the layer, the steps and the busy counts alike.
  const frameworkLayer = shapes.layer ?? { hidden: 32, ffn: 64, heads: 2, tokens: 16 };
  const framework: Job[] = [1, 2].map((layers) => ({ run: frameworkStep(frameworkLayer, layers, device), participates: true }));
  // CPU ranks sharing cores (the cost model charges the executors' own work only there): a step
  // pipelined over every rank, one data-parallel over every rank, and (4 or more ranks, even) one of
  // two replicas of a pipeline over half of them.
  const microBatches = PIPELINE_MICRO_BATCHES_PER_STAGE * world;
  const shared = !cuda && world > 1;
  const replicated = shared && world >= 4 && world % 2 === 0;
  if (shared) {
    framework.push({ run: plannedStep(frameworkLayer, world, 1, microBatches, device), participates: true });
    framework.push({ run: plannedStep(frameworkLayer, 1, world, 1, device), participates: true });
  }
  if (replicated) framework.push({ run: plannedStep(frameworkLayer, world / 2, 2, microBatches / 2, device), participates: true });
  const layerShapes = cuda ? undefined : shapes.layers;
  // TP groups of neighbouring ranks, every group at once (every rank makes every group, in order).
  const tpGroups = new Map<number, { group: ProcessGroup | null; member: boolean }>();
  for (const tp of new Set((layerShapes?.points ?? []).map((p) => p.tp))) {
    if (tp === 1) {
      tpGroups.set(1, { group: null, member: true });
      continue;
    }
    const groups = Array.from({ length: Math.floor(world / tp) }, (_, g) =>
      dist.new_group(Array.from({ length: tp }, (_, r) => g * tp + r)),
    );
    const mine = groups[Math.floor(rank / tp)];
    const member = rank < groups.length * tp && mine !== undefined && typeof mine !== "symbol";
    tpGroups.set(tp, { group: member ? mine : null, member });
  }
  const points: Job[] = (layerShapes?.points ?? []).map(({ tp, batch }) => {
    const { group, member } = tpGroups.get(tp)!;
    return { run: member ? decoderLayer(layerShapes!.model, group, batch, dtype, device) : () => [], participates: member };
  });
  let busyWork: (() => number[]) | undefined;
  if (layerShapes !== undefined) busyWork = decoderLayer(layerShapes.model, null, layerShapes.concurrencyBatch, dtype, device);
  else if (!cuda) {
    const widest = linear(shapes.gemm.reduce((a, b) => (b.n * b.k > a.n * a.k ? b : a)));
    busyWork = () => {
      widest();
      return [];
    };
  }
  const busy: Job[] = busyWork === undefined ? [] : Array.from({ length: world }, (_, i) => ({ run: busyWork, participates: rank <= i }));
  const timed = timeJobs([...framework, ...points, ...busy], INTERLEAVED_SAMPLES);
  const frameworkS = [slowest(timed[0]![0]!), slowest(timed[1]![0]!)] as [number, number];
  const pipeline = shared ? { stages: world, microBatches, seconds: slowest(timed[2]![0]!) } : undefined;
  const dataParallel = shared ? { stages: 1, replicas: world, microBatches: 1, seconds: slowest(timed[3]![0]!) } : undefined;
  const replicatedPipeline = replicated
    ? { stages: world / 2, replicas: 2, microBatches: microBatches / 2, seconds: slowest(timed[4]![0]!) }
    : undefined;
  const after = framework.length;
  const layers: MeasuredLayers | undefined =
    layerShapes === undefined
      ? undefined
      : {
          model: layerShapes.model,
          samples: layerShapes.points.map(({ tp, batch }, i): [number, number, number, number] => {
            const [whole, forward] = points[i]!.participates ? (timed[after + i] as [number, number]) : [0, 0];
            return [tp, batch * layerShapes.model.seq, slowest(forward), slowest(whole - forward)];
          }),
        };
  const concurrency: CalibrationTimings["concurrency"] =
    busy.length === 0
      ? undefined
      : {
          cores: os.cpus().length,
          samples: busy.map((job, i): [number, number] => [i + 1, slowest(job.participates ? timed[after + points.length + i]![0]! : 0)]),
        };
  // Each collective kind on its own (Gloo's all-gather and reduce-scatter are not half an all-reduce),
  // `bytes` the full message: the all-gather's output, the reduce-scatter's input.
  const allReduce: Array<[number, number, number]> = [];
  const allGather: Array<[number, number, number]> = [];
  const reduceScatter: Array<[number, number, number]> = [];
  for (let size = 2; size <= world; size *= 2) {
    // Groups of `size` neighbouring ranks, all of them at once, as a job's TP or DP groups run (on CPU
    // ranks the other groups' collectives take cores too). Every rank makes every group, in the same
    // order (new_group's rule); ranks past the last whole group only join the agreement and barriers.
    const groups = Array.from({ length: Math.floor(world / size) }, (_, g) =>
      dist.new_group(Array.from({ length: size }, (_, r) => g * size + r)),
    );
    const member = rank < groups.length * size;
    const group = groups[Math.min(Math.floor(rank / size), groups.length - 1)];
    const timed = (fn: () => void): number => {
      const seconds = time(() => (member ? fn() : undefined), 3, member);
      return slowest(member ? seconds : 0);
    };
    for (const bytes of shapes.allReduceBytes) {
      const full = torch.ones([bytes / 4], { dtype: torch.float32, device });
      const shard = torch.ones([bytes / 4 / size], { dtype: torch.float32, device });
      allReduce.push([size, bytes, timed(() => dist.all_reduce(full, { group }))]);
      allGather.push([size, bytes, timed(() => dist.all_gather_into_tensor(full, shard, { group }))]);
      reduceScatter.push([size, bytes, timed(() => dist.reduce_scatter_tensor(shard, full, dist.ReduceOp.SUM, { group }))]);
    }
  }
  // Point-to-point, as a pipeline's neighbouring stages send activations and gradients: ranks in
  // pairs (0-1, 2-3, …), every pair at once, a message there and back; one message is half the round
  // trip. A rank past the last pair only joins the agreement and barriers.
  const p2p: Array<[number, number]> = [];
  const paired = rank < 2 * Math.floor(world / 2);
  for (const bytes of world > 1 ? shapes.allReduceBytes : []) {
    const message = torch.ones([bytes / 4], { dtype: torch.float32, device });
    const peer = rank ^ 1;
    const roundTrip = (): void => {
      if (rank % 2 === 0) {
        dist.send(message, peer);
        dist.recv(message, peer);
      } else {
        dist.recv(message, peer);
        dist.send(message, peer);
      }
    };
    const seconds = time(() => (paired ? roundTrip() : undefined), 3, paired);
    p2p.push([bytes, slowest(paired ? seconds / 2 : 0)]);
  }
  const { device: name, software } = localDevice();
  return {
    device: name,
    software,
    gemm,
    attention,
    copy,
    allReduce,
    allGather,
    reduceScatter,
    p2p,
    framework: frameworkS,
    ...(pipeline === undefined ? {} : { pipeline }),
    ...(dataParallel === undefined ? {} : { dataParallel }),
    ...(replicatedPipeline === undefined ? {} : { replicatedPipeline }),
    ...(concurrency === undefined ? {} : { concurrency }),
    ...(layers === undefined ? {} : { layers }),
  };
}
