// Measured hardware profiles: a pure function turning raw timings into a profile, a disk cache keyed by
// device and software, and the seam `measureHardwareProfile` through which the runtime (which owns the
// kernels and process groups) supplies the timings. Nothing here invents a number: what is not
// measured comes from the caller's base profile (data-sheet peak, host figures).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Collective } from "./collectives.js";
import { predictStep } from "./cost.js";
import { validateHardwareProfile, type HardwareProfile, type LinkProfile, type MeasuredLayers } from "./hardware.js";
import { layerShape, measuredLayerTime } from "./measured_layer.js";
import { profileFromConfig, type ModelProfile } from "./model_profile.js";
import { singleProcessPlan, type Problem } from "./space.js";

/** One timed GEMM [m×k]·[k×n]. */
export interface GemmSample {
  m: number;
  n: number;
  k: number;
  seconds: number;
}
/** One timed causal attention forward+backward. */
export interface AttentionSample {
  batch: number;
  heads: number;
  seq: number;
  headDim: number;
  seconds: number;
}
/**
 * One timed collective (an all-reduce unless `kind` says) of `bytes` over `groupSize` devices inside a
 * node or across nodes; "p2p": one point-to-point message of `bytes` between 2 devices.
 */
export interface CollectiveSample {
  kind?: Collective | "p2p";
  scope: "intra" | "inter";
  groupSize: number;
  bytes: number;
  seconds: number;
}

/** One training step of the framework steps' model pipelined over `stages` ranks (× `replicas`, default 1) in `microBatches`. */
export interface PipelineSample {
  stages: number;
  replicas?: number;
  microBatches: number;
  seconds: number;
}

export interface RawMeasurements {
  device: string;
  software: string;
  gemm: GemmSample[];
  attention: AttentionSample[];
  /** Seconds to copy `bytes` device-to-device (read + write = 2·bytes moved). */
  memoryCopy: { bytes: number; seconds: number };
  collectives: CollectiveSample[];
  /**
   * Seconds of one training step of a Llama with 1 and with 2 decoder layers: the framework's time.
   * `layer` gives the widths and tokens it ran at when they were the model's (else a model too narrow
   * for its math to count): the overhead is then what the cost model does not already charge there.
   */
  framework?: { oneLayer: number; twoLayers: number; layer?: FrameworkLayer };
  /**
   * Seconds of one training step of the framework steps' model (at `framework.layer`) with one decoder
   * layer on each of `stages` ranks, pipelined by tessera's pipeline executor in `microBatches`
   * micro-batches: what the executor adds to a pipeline's tasks (CPU ranks sharing cores).
   */
  pipeline?: PipelineSample;
  /**
   * The same with data-parallel replicas of the pipeline (`replicas` > 1, a layer per stage): what a
   * pipeline's step adds with replicas (their gradient reduction beyond its modelled collectives,
   * the loss averaged over them) on CPU ranks sharing cores.
   */
  replicatedPipeline?: PipelineSample;
  /**
   * One training step of the framework steps' model with one layer, data-parallel over every rank
   * (`stages` 1, `replicas` the ranks; DDP's Reducer, the global loss): what data parallelism adds
   * per step beyond its modelled collectives on CPU ranks sharing cores.
   */
  dataParallel?: PipelineSample;
  /**
   * Ranks sharing a machine's cores (CPU): the machine's cores and the seconds of one piece of work on
   * a rank while `busy` ranks run it at once, for busy = 1 … all ranks (the model's decoder layer,
   * forward and backward, where the calibration timed one; else a GEMM).
   */
  concurrency?: { cores: number; samples: Array<{ busy: number; seconds: number }> };
  /** The model's decoder layer timed with every rank running it at once (hardware.ts, MeasuredLayers). */
  layers?: MeasuredLayers;
}

/** What the runtime implements so the planner can measure the machine at hand. */
export interface HardwareProbe {
  device(): Promise<string>;
  /** e.g. "torch 2.13.0+cu124 / CUDA 12.4 / NCCL 2.21". */
  software(): Promise<string>;
  timeGemm(m: number, n: number, k: number): Promise<number>;
  timeAttention(batch: number, heads: number, seq: number, headDim: number): Promise<number>;
  timeMemoryCopy(bytes: number): Promise<number>;
  /** Seconds for one all-reduce, or undefined where the scope or size is not available. */
  timeAllReduce(scope: "intra" | "inter", groupSize: number, bytes: number): Promise<number | undefined>;
  /** Seconds for one all-gather or reduce-scatter of `bytes` (the full message); absent: estimated from the all-reduce. */
  timeCollective?(
    kind: "all_gather" | "reduce_scatter",
    scope: "intra" | "inter",
    groupSize: number,
    bytes: number,
  ): Promise<number | undefined>;
  /** Seconds of one point-to-point message of `bytes` between two ranks (every pair at once); absent: estimated from the all-reduce. */
  timeP2p?(scope: "intra" | "inter", bytes: number): Promise<number | undefined>;
  /** Seconds of one training step of a model too narrow for its math to count, with `layers` decoder layers. */
  timeFramework?(layers: number): Promise<number>;
  /** CPU ranks: the machine's cores and a layer's (or a GEMM's) seconds with 1 … all ranks computing at once. */
  timeConcurrency?(): Promise<NonNullable<RawMeasurements["concurrency"]>>;
  /** The model's decoder layer at `shapes.layers`' points, every rank running it at once. */
  timeLayers?(): Promise<MeasuredLayers | undefined>;
  /** The framework steps' model pipelined over every rank (RawMeasurements.pipeline). */
  timePipeline?(): Promise<RawMeasurements["pipeline"]>;
  /** The framework steps' one-layer model data-parallel over every rank (RawMeasurements.dataParallel). */
  timeDataParallel?(): Promise<RawMeasurements["dataParallel"]>;
  /** The same with data-parallel replicas of the pipeline (RawMeasurements.replicatedPipeline). */
  timeReplicatedPipeline?(): Promise<RawMeasurements["replicatedPipeline"]>;
}

/**
 * A Llama decoder layer's widths and the tokens of one step, for the framework-time steps: `batch`
 * sequences of `tokens` (1 when absent), `kvHeads` KV heads (`heads` when absent).
 */
export interface FrameworkLayer {
  hidden: number;
  ffn: number;
  heads: number;
  kvHeads?: number;
  tokens: number;
  batch?: number;
}

/**
 * The decoder layer to time (a Llama layer of `model`'s shapes): forward and backward of `batch`
 * sequences at each TP degree of `points`, and with 1 … all ranks busy at `concurrencyBatch`.
 */
export interface LayerShapes {
  model: MeasuredLayers["model"];
  points: Array<{ tp: number; batch: number }>;
  concurrencyBatch: number;
}

/** What to time: GEMMs [m×k]·[k×n], one causal attention, a copy, all-reduce message sizes. */
export interface CalibrationShapes {
  gemm: Array<{ m: number; n: number; k: number }>;
  attention: { batch: number; heads: number; seq: number; headDim: number };
  copyBytes: number;
  allReduceBytes: number[];
  /** The framework-time steps at the model's widths (absent: a model too narrow for its math to count). */
  layer?: FrameworkLayer;
  /** The model's decoder layer (CPU ranks, a Llama-style model): absent, no layer is timed. */
  layers?: LayerShapes;
}

/**
 * GPU-scale defaults: GEMM widths at training shapes (8192 tokens × hidden-per-TP-rank; the narrow
 * end sets the curve's knee), a 4K-token attention, a 1 GiB copy, 1 MiB and 256 MiB all-reduces.
 */
export const GPU_SHAPES: CalibrationShapes = {
  gemm: [256, 512, 1024, 2048, 4096, 8192].map((d) => ({ m: 8192, n: d, k: 8192 })),
  attention: { batch: 1, heads: 32, seq: 4096, headDim: 128 },
  copyBytes: 1 << 30,
  allReduceBytes: [1 << 20, 256 << 20],
};

function fitGemm(samples: GemmSample[], peak: number): HardwareProfile["gemm"] {
  // eff(x) = max·x/(x + half) ⇔ 1/eff = 1/max + (half/max)·(1/x): a least-squares line in 1/x.
  const points = samples.map((s) => ({ x: 1 / Math.min(s.m, s.n, s.k), y: peak / ((2 * s.m * s.n * s.k) / s.seconds) }));
  const n = points.length;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  const sxx = points.reduce((a, p) => a + (p.x - mx) ** 2, 0);
  const slope = sxx === 0 ? 0 : points.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0) / sxx;
  const intercept = my - slope * mx;
  // Noisy timings (a loaded machine) can bend the line the wrong way: then no knee is measurable,
  // and the curve is flat at the best efficiency seen.
  if (intercept <= 0 || slope < 0) return { maxEfficiency: Math.min(1, Math.max(...points.map((p) => 1 / p.y))), halfDim: 0 };
  const maxEfficiency = Math.min(1, 1 / intercept);
  return { maxEfficiency, halfDim: Math.max(0, slope * maxEfficiency) };
}

/** Per group size, a line through the smallest and largest message: [groupSize, seconds at no bytes, seconds per byte]. */
function fitLines(samples: CollectiveSample[]): Array<[number, number, number]> {
  const lines: Array<[number, number, number]> = [];
  for (const size of [...new Set(samples.map((s) => s.groupSize))].sort((a, b) => a - b)) {
    const group = samples.filter((s) => s.groupSize === size).sort((a, b) => a.bytes - b.bytes);
    const [small, large] = [group[0]!, group[group.length - 1]!];
    const slope = large.bytes > small.bytes ? (large.seconds - small.seconds) / (large.bytes - small.bytes) : 0;
    // Noise can make the larger message no slower: then the large message's average rate.
    const perByte = slope > 0 ? slope : large.seconds / large.bytes;
    lines.push([size, Math.max(0, small.seconds - perByte * small.bytes), perByte]);
  }
  return lines;
}

function fitLink(samples: CollectiveSample[], base: LinkProfile): LinkProfile {
  const allReduce = samples.filter((s) => (s.kind ?? "all_reduce") === "all_reduce");
  if (allReduce.length === 0) return base;
  // All-reduce: t = steps·α + f·bytes/bus, a ring's 2(n−1)/n of the message per device.
  const lines = fitLines(allReduce);
  const byGroupSize = lines.map(([size, , perByte]) => [size, (2 * (size - 1)) / size / perByte] as [number, number]);
  const latency = Math.max(0, ...lines.map(([size, intercept]) => intercept / (2 * Math.ceil(Math.log2(size)))));
  const link: LinkProfile = { bandwidthBytesPerS: byGroupSize[byGroupSize.length - 1]![1], latencyS: latency, byGroupSize };
  // All-gather and reduce-scatter timed on their own: their lines as measured.
  const byKind: NonNullable<LinkProfile["byKind"]> = {};
  for (const kind of ["all_gather", "reduce_scatter"] as const) {
    const own = samples.filter((s) => s.kind === kind);
    if (own.length > 0) byKind[kind] = fitLines(own).map(([size, intercept, perByte]) => [size, intercept, 1 / perByte]);
  }
  const withKinds = Object.keys(byKind).length === 0 ? link : { ...link, byKind };
  // Point-to-point messages: their line as measured.
  const p2p = samples.filter((s) => s.kind === "p2p");
  if (p2p.length === 0) return withKinds;
  const [[, intercept, perByte]] = fitLines(p2p.map((s) => ({ ...s, groupSize: 2 }))) as [[number, number, number]];
  return { ...withKinds, p2p: [intercept, 1 / perByte] };
}

/** The framework steps' Llama with `layers` decoder layers at `layer`'s widths and a 64-token vocabulary. */
function frameworkModel(layer: FrameworkLayer, layers: number): ModelProfile {
  return profileFromConfig(
    {
      model_type: "llama",
      vocab_size: 64,
      hidden_size: layer.hidden,
      intermediate_size: layer.ffn,
      num_attention_heads: layer.heads,
      num_key_value_heads: layer.kvHeads ?? layer.heads,
      num_hidden_layers: layers,
      tie_word_embeddings: false,
    },
    "calibration",
  );
}

/**
 * Per-layer and per-step framework time from steps with one and two layers (a line through both), less
 * what the cost model already charges for those steps with `profile` (GEMMs, attention, elementwise
 * traffic, the optimizer): at the model's widths that leaves the eager ops' dispatch and the traffic
 * the model's count of stored activations misses; a model too narrow for its math leaves nearly all.
 * Where the profile measured the step's layer itself (`layers`), the layer's framework time is in that
 * measurement: no per-layer time, and the per-step time is what the one-layer step took beyond the
 * cost model's charge for it (the measured layer, the output layer and loss, the optimizer).
 */
function frameworkOverhead(
  f: NonNullable<RawMeasurements["framework"]>,
  profile: HardwareProfile,
): { perLayerS: number; perStepS: number } {
  const layer = f.layer;
  if (layer === undefined) {
    const perLayerS = Math.max(0, f.twoLayers - f.oneLayer);
    return { perLayerS, perStepS: Math.max(0, f.oneLayer - perLayerS) };
  }
  const batch = layer.batch ?? 1;
  const modelWith = (layers: number): ModelProfile => frameworkModel(layer, layers);
  const predicted = (layers: number): number =>
    predictStep(
      calibrationProblem(layer, layers, 1, batch, { ...profile, overhead: undefined, sharedCores: undefined }),
      singleProcessPlan({ microBatch: batch }),
    ).step.total;
  const shape = layerShape(modelWith(1), layer.tokens, "fp32");
  if (measuredLayerTime(profile.layers, shape, 1, batch * layer.tokens) !== undefined)
    return { perLayerS: 0, perStepS: Math.max(0, f.oneLayer - predicted(1)) };
  const perLayerS = Math.max(0, f.twoLayers - f.oneLayer - (predicted(2) - predicted(1)));
  return { perLayerS, perStepS: Math.max(0, f.oneLayer - perLayerS - predicted(1)) };
}

/** A calibration step's problem: the framework steps' model with `layers` layers on `gpus` ranks of one node, fp32. */
function calibrationProblem(layer: FrameworkLayer, layers: number, gpus: number, globalBatch: number, hardware: HardwareProfile): Problem {
  return {
    model: frameworkModel(layer, layers),
    hardware,
    gpus,
    gpusPerNode: gpus,
    seqLen: layer.tokens,
    globalBatch,
    flashAttention: true,
    tpAcrossNodes: false,
    precision: "fp32",
  };
}

/** The cost model's prediction of a calibration pipeline step (`sample`) with `profile`. */
function pipelinePrediction(sample: PipelineSample, layer: FrameworkLayer, profile: HardwareProfile): number {
  const batch = layer.batch ?? 1;
  const replicas = sample.replicas ?? 1;
  const hardware = { ...profile, overhead: { perLayerS: 0, perStepS: 0, ...profile.overhead } };
  const problem = calibrationProblem(layer, sample.stages, sample.stages * replicas, batch * sample.microBatches * replicas, hardware);
  const plan = singleProcessPlan({ pp: sample.stages, dp: replicas, microBatch: batch, gradAccum: sample.microBatches });
  return predictStep(problem, plan).step.total;
}

/**
 * The pipeline executor's own work per task (a micro-batch's forward or backward of one chunk), in
 * all-busy seconds, on ranks sharing cores: the per-task time at which the cost model's prediction
 * of the calibration's pipeline step (`pipeline`: the framework steps' model, a layer per stage, run
 * as a plan runs it; its tasks, sends, bubble and optimizer charged as for any plan) equals the step
 * as measured. What it holds is what the plain steps do not run: posting the sends and receives,
 * holding each micro-batch's gradients, the loss broadcast, the schedule's bookkeeping, spread over
 * the tasks (cost.ts charges it in the pipeline simulation, as work competing for the cores). 0
 * where the prediction is not below the measurement; undefined without shared cores (GPUs run
 * ahead of their launches).
 */
function pipelineOverhead(pipeline: PipelineSample, layer: FrameworkLayer, profile: HardwareProfile): number | undefined {
  if (profile.sharedCores === undefined) return undefined;
  const predicted = (pipelineTaskS: number): number =>
    pipelinePrediction(pipeline, layer, { ...profile, overhead: { perLayerS: 0, perStepS: 0, ...profile.overhead, pipelineTaskS } });
  // The prediction grows with the per-task time (every task runs longer): bisect for the measurement.
  if (predicted(0) >= pipeline.seconds) return 0;
  let [low, high] = [0, pipeline.seconds];
  for (let i = 0; i < 50; i++) {
    const mid = (low + high) / 2;
    if (predicted(mid) < pipeline.seconds) low = mid;
    else high = mid;
  }
  return (low + high) / 2;
}

/**
 * What data-parallel replicas add to a step, on ranks sharing cores: a calibration step with
 * replicas (`sample`: plain data parallelism, or replicas of a pipeline) as measured, less the cost
 * model's prediction of it with the per-task time already fitted (which charges the gradient
 * reduction as its modelled collectives). 0 where the prediction is not below the measurement.
 */
function replicaOverhead(sample: PipelineSample, layer: FrameworkLayer, profile: HardwareProfile): number {
  return Math.max(0, sample.seconds - pipelinePrediction(sample, layer, profile));
}

/** A rank's speed with k busy ranks relative to all of them busy: the all-busy GEMM's seconds over k's. */
function sharedCores(c: NonNullable<RawMeasurements["concurrency"]>): NonNullable<HardwareProfile["sharedCores"]> {
  const all = c.samples.reduce((a, b) => (b.busy > a.busy ? b : a));
  return {
    cores: c.cores,
    speed: [...c.samples].sort((a, b) => a.busy - b.busy).map((x) => [x.busy, all.seconds / x.seconds] as [number, number]),
  };
}

/**
 * Builds a measured profile from raw timings. `base` supplies what timings cannot: the data-sheet peak
 * (the MFU denominator), memory size, GPUs per node and host figures.
 */
export function profileFromMeasurements(
  raw: RawMeasurements,
  base: HardwareProfile,
  measuredAt = new Date().toISOString(),
): HardwareProfile {
  if (raw.gemm.length < 2) throw new Error("measurements: need at least two GEMM samples to fit the efficiency curve");
  // Efficiency as the cost model counts attention: the causal half of 4·b·s²·(heads·headDim) forward
  // FLOPs, executed three times (forward, and a backward of twice the forward).
  const attention = raw.attention.map((a) => (3 * 0.5 * 4 * a.batch * a.seq * a.seq * a.heads * a.headDim) / a.seconds / base.peakFlops);
  const fitted: HardwareProfile = {
    ...base,
    name: `${raw.device} (measured)`,
    source: "measured",
    gemm: fitGemm(raw.gemm, base.peakFlops),
    attentionEfficiency: attention.length > 0 ? Math.min(1, Math.max(...attention)) : base.attentionEfficiency,
    memoryBandwidthBytesPerS: (2 * raw.memoryCopy.bytes) / raw.memoryCopy.seconds,
    intraNode: fitLink(
      raw.collectives.filter((c) => c.scope === "intra"),
      base.intraNode,
    ),
    interNode: fitLink(
      raw.collectives.filter((c) => c.scope === "inter"),
      base.interNode,
    ),
    measured: { device: raw.device, software: raw.software, measuredAt },
    ...(raw.concurrency === undefined || raw.concurrency.samples.length === 0 ? {} : { sharedCores: sharedCores(raw.concurrency) }),
    ...(raw.layers === undefined ? {} : { layers: raw.layers }),
  };
  if (raw.framework === undefined) return fitted;
  const withOverhead: HardwareProfile = { ...fitted, overhead: frameworkOverhead(raw.framework, fitted) };
  const layer = raw.framework.layer;
  const pipelineTaskS = raw.pipeline === undefined || layer === undefined ? undefined : pipelineOverhead(raw.pipeline, layer, withOverhead);
  if (pipelineTaskS === undefined) return withOverhead;
  const withPipeline: HardwareProfile = { ...withOverhead, overhead: { ...withOverhead.overhead!, pipelineTaskS } };
  if (layer === undefined) return withPipeline;
  const overhead = { ...withPipeline.overhead! };
  if (raw.dataParallel !== undefined) overhead.dataParallelStepS = replicaOverhead(raw.dataParallel, layer, withPipeline);
  if (raw.replicatedPipeline !== undefined) overhead.replicaStepS = replicaOverhead(raw.replicatedPipeline, layer, withPipeline);
  return { ...withPipeline, overhead };
}

/** The profile cache: $TESSERA_CACHE_DIR, else ~/.cache/tessera/hardware. */
export function defaultCacheDir(): string {
  return process.env.TESSERA_CACHE_DIR ?? join(homedir(), ".cache", "tessera", "hardware");
}

/** The cache file name for a device and software stack: a change of either measures again. */
export function hardwareCacheKey(device: string, software: string): string {
  const clean = (s: string) => s.toLowerCase().replace(/[^a-z0-9.+-]+/g, "_");
  return `${clean(device)}__${clean(software)}.json`;
}

export function readCachedProfile(device: string, software: string, dir = defaultCacheDir()): HardwareProfile | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, hardwareCacheKey(device, software)), "utf8");
  } catch {
    return undefined;
  }
  return validateHardwareProfile(JSON.parse(text));
}

/** Writes a measured profile under its device + software key (a temp name, then renamed: never half-written). */
export function writeCachedProfile(profile: HardwareProfile, dir = defaultCacheDir()): string {
  if (profile.measured === undefined) throw new Error("only measured profiles are cached");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, hardwareCacheKey(profile.measured.device, profile.measured.software));
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(profile, null, 2)}\n`);
  renameSync(temp, file);
  return file;
}

/**
 * Measures the machine through `probe` (or returns the cached profile for the same device and
 * software). Runs GEMMs at training shapes, a causal attention, a device copy and all-reduces by group
 * size (powers of two up to `devicesPerNode` inside a node, and across `nodes` when there are several),
 * and point-to-point messages between pairs of ranks.
 */
export async function measureHardwareProfile(
  probe: HardwareProbe,
  base: HardwareProfile,
  options: { cacheDir?: string; refresh?: boolean; nodes?: number; shapes?: CalibrationShapes } = {},
): Promise<HardwareProfile> {
  const device = await probe.device();
  const software = await probe.software();
  if (options.refresh !== true) {
    const cached = readCachedProfile(device, software, options.cacheDir);
    if (cached !== undefined) return cached;
  }
  const shapes = options.shapes ?? GPU_SHAPES;
  const gemm: GemmSample[] = [];
  for (const { m, n, k } of shapes.gemm) gemm.push({ m, n, k, seconds: await probe.timeGemm(m, n, k) });
  const a = shapes.attention;
  const attention: AttentionSample[] = [{ ...a, seconds: await probe.timeAttention(a.batch, a.heads, a.seq, a.headDim) }];
  const memoryCopy = { bytes: shapes.copyBytes, seconds: await probe.timeMemoryCopy(shapes.copyBytes) };
  const collectives: CollectiveSample[] = [];
  const scopes: Array<["intra" | "inter", number[]]> = [
    ["intra", []],
    ["inter", []],
  ];
  for (let n = 2; n <= base.devicesPerNode; n *= 2) scopes[0]![1].push(n);
  if ((options.nodes ?? 1) > 1) scopes[1]![1].push((options.nodes ?? 1) * base.devicesPerNode);
  for (const [scope, sizes] of scopes) {
    for (const groupSize of sizes) {
      for (const bytes of shapes.allReduceBytes) {
        const seconds = await probe.timeAllReduce(scope, groupSize, bytes);
        if (seconds !== undefined) collectives.push({ scope, groupSize, bytes, seconds });
        for (const kind of ["all_gather", "reduce_scatter"] as const) {
          const own = await probe.timeCollective?.(kind, scope, groupSize, bytes);
          if (own !== undefined) collectives.push({ kind, scope, groupSize, bytes, seconds: own });
        }
      }
    }
    if (sizes.length > 0) {
      for (const bytes of shapes.allReduceBytes) {
        const seconds = await probe.timeP2p?.(scope, bytes);
        if (seconds !== undefined) collectives.push({ kind: "p2p", scope, groupSize: 2, bytes, seconds });
      }
    }
  }
  const framework =
    probe.timeFramework === undefined
      ? undefined
      : { oneLayer: await probe.timeFramework(1), twoLayers: await probe.timeFramework(2), layer: shapes.layer };
  const concurrency = await probe.timeConcurrency?.();
  const layers = await probe.timeLayers?.();
  const pipeline = await probe.timePipeline?.();
  const replicatedPipeline = await probe.timeReplicatedPipeline?.();
  const dataParallel = await probe.timeDataParallel?.();
  const profile = profileFromMeasurements(
    {
      device,
      software,
      gemm,
      attention,
      memoryCopy,
      collectives,
      framework,
      concurrency,
      ...(layers === undefined ? {} : { layers }),
      ...(pipeline === undefined ? {} : { pipeline }),
      ...(replicatedPipeline === undefined ? {} : { replicatedPipeline }),
      ...(dataParallel === undefined ? {} : { dataParallel }),
    },
    base,
  );
  writeCachedProfile(profile, options.cacheDir);
  return profile;
}
