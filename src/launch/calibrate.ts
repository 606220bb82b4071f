// `tessera plan --calibrate`: measures the machine at hand and caches a hardware profile (the
// planner's measure.ts fits and caches it; this file supplies the timings). Everything is timed on
// the job's own ranks at once: `nproc` processes over Gloo (or NCCL on CUDA), each running the same
// GEMMs, causal attention and copy while the others do, so a rank sees the share of the machine it
// gets in a real job; then all-reduces, all-gathers and reduce-scatters over groups of 2, 4, … ranks
// and point-to-point messages between pairs of ranks, through tessera's c10d. Shapes
// come from the model to be planned (its hidden and MLP widths), scaled to finish in seconds on a CPU.
// On CPU ranks a Llama-style model's decoder layer itself is timed at its sequence (and under the
// TP executor at each TP degree), forward and backward, all ranks at once and 1 … all ranks busy: the cost model charges
// that in place of its count of the layer's work.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { youngGenerationFlags } from "./node_flags.js";
import { freePort } from "./free_port.js";
import * as cuda from "../torch/cuda.js";
import { version } from "../torch/runtime.js";
import {
  layerParams,
  layerShape,
  measureHardwareProfile,
  profileFromMeasurements,
  readCachedProfile,
  type CalibrationShapes,
  type HardwareProbe,
  type HardwareProfile,
  type LayerShapes,
  type MeasuredLayers,
  type ModelProfile,
} from "../parallel/planner/index.js";
import type { Collective } from "../parallel/planner/collectives.js";
import type { PipelineSample, RawMeasurements } from "../parallel/planner/measure.js";
import { defaultCacheDir, hardwareCacheKey } from "../parallel/planner/measure.js";

/** What one calibration job measured: per-shape seconds, the slowest rank's. */
export interface CalibrationTimings {
  device: string;
  software: string;
  gemm: number[];
  attention: number;
  copy: number;
  /** [groupSize, bytes, seconds] for each all-reduce. */
  allReduce: Array<[number, number, number]>;
  /** [groupSize, full bytes, seconds] for each all-gather and reduce-scatter, at the all-reduces' sizes. */
  allGather?: Array<[number, number, number]>;
  reduceScatter?: Array<[number, number, number]>;
  /** [bytes, seconds] of one point-to-point message between neighbouring ranks (every pair at once), at the all-reduces' sizes. */
  p2p?: Array<[number, number]>;
  /** A training step of a narrow Llama with 1 and 2 decoder layers: the framework's own time. */
  framework: [number, number];
  /** CPU ranks: a step of that model with a layer per rank, pipelined over `stages` ranks in `microBatches`. */
  pipeline?: PipelineSample;
  /** CPU ranks: a step of that model with one layer, data-parallel over every rank (one stage). */
  dataParallel?: PipelineSample;
  /** CPU ranks (4 or more, even): the same with two data-parallel replicas of a pipeline over half the ranks. */
  replicatedPipeline?: PipelineSample;
  /**
   * CPU ranks: the machine's cores and [busy ranks, seconds] of the model's decoder layer (forward and
   * backward; else one GEMM) with 1 … all ranks computing at once.
   */
  concurrency?: { cores: number; samples: Array<[number, number]> };
  /** CPU ranks, a Llama-style model: its decoder layer with every rank running it at once. */
  layers?: MeasuredLayers;
}

function concurrencyOf(t: CalibrationTimings): RawMeasurements["concurrency"] {
  return t.concurrency === undefined
    ? undefined
    : { cores: t.concurrency.cores, samples: t.concurrency.samples.map(([busy, seconds]) => ({ busy, seconds })) };
}

function collectivesOf(t: CalibrationTimings): RawMeasurements["collectives"] {
  const of = (kind: Collective, samples: Array<[number, number, number]> = []): RawMeasurements["collectives"] =>
    samples.map(([groupSize, bytes, seconds]) => ({ kind, scope: "intra" as const, groupSize, bytes, seconds }));
  const p2p = (t.p2p ?? []).map(([bytes, seconds]) => ({ kind: "p2p" as const, scope: "intra" as const, groupSize: 2, bytes, seconds }));
  return [...of("all_reduce", t.allReduce), ...of("all_gather", t.allGather), ...of("reduce_scatter", t.reduceScatter), ...p2p];
}

/**
 * CPU-scale shapes at the model's widths: GEMMs of `tokens` rows against the hidden size and its
 * quarter, half and MLP width (the narrow end sets the efficiency curve's knee), one causal attention
 * at the model's head size, a 64 MiB copy, 64 KiB and 16 MiB all-reduces.
 */
export function calibrationShapes(model?: Pick<ModelProfile, "hidden" | "ffn" | "headDim" | "heads">, seqLen = 512): CalibrationShapes {
  const h = model?.hidden ?? 1024;
  const ffn = model?.ffn ?? 4 * h;
  const headDim = model?.headDim ?? 64;
  const tokens = Math.min(seqLen, 512);
  const widths = [...new Set([Math.max(32, h / 4), Math.max(32, h / 2), h, ffn].map(Math.round))];
  return {
    gemm: widths.map((n) => ({ m: tokens, n, k: h })),
    attention: { batch: 1, heads: Math.max(1, Math.min(model?.heads ?? 8, 8)), seq: Math.min(seqLen, 1024), headDim },
    copyBytes: 64 << 20,
    allReduceBytes: [64 << 10, 16 << 20],
    // The framework-time steps at the model's own widths and tokens, when there is a model.
    ...(model === undefined ? {} : { layer: { hidden: h, ffn, heads: model.heads, tokens } }),
  };
}

/** Tokens of the widest layer sample: longer runs are not a CPU calibration's seconds. */
const MAX_LAYER_TOKENS = 2048;
/** Training FLOPs (6 per weight and token) of the largest layer sample, ~0.1 s of a loaded CPU core. */
const MAX_LAYER_FLOPS = 4e9;

/**
 * The decoder layer to time for `model` at sequence `seq` on `nproc` CPU ranks (undefined: not a
 * Llama-style layer, or too large for a CPU calibration): `points` where given (the plans' own
 * micro-batches and TP degrees), else every TP degree 1, 2, 4, … up to `nproc` that divides the heads
 * and KV heads, at 1, 2, 4, … sequences within the bounds above.
 */
export function layerCalibrationShapes(
  model: ModelProfile,
  seq: number,
  nproc: number,
  points?: Array<{ tp: number; batch: number }>,
): Pick<CalibrationShapes, "layers" | "layer"> {
  const shape = layerShape(model, seq, "fp32");
  if (shape === undefined) return {};
  const flops = (tp: number, batch: number): number => (6 * layerParams(model).matmul * batch * seq) / tp;
  const grid: Array<{ tp: number; batch: number }> = [];
  for (let tp = 1; tp <= nproc && model.heads % tp === 0 && model.kvHeads % tp === 0; tp *= 2)
    for (let batch = 1; batch * seq <= MAX_LAYER_TOKENS && flops(tp, batch) <= MAX_LAYER_FLOPS; batch *= 2) grid.push({ tp, batch });
  const chosen = points ?? grid;
  const lone = chosen.filter((p) => p.tp === 1).map((p) => p.batch);
  if (lone.length === 0) return {};
  const layers: LayerShapes = { model: shape, points: chosen, concurrencyBatch: Math.min(...lone) };
  // The framework steps at the same layer and micro-batch, so that the step's rest is what the
  // measured layer leaves (measure.ts, frameworkOverhead).
  const layer = {
    hidden: model.hidden,
    ffn: model.ffn,
    heads: model.heads,
    kvHeads: model.kvHeads,
    tokens: seq,
    batch: layers.concurrencyBatch,
  };
  return { layers, layer };
}

/** This machine's device name and software stack, the profile cache's key. */
export function localDevice(): { device: string; software: string } {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL("../../package.json", import.meta.url)), "utf8")) as { version?: string };
  const software = `tessera ${pkg.version ?? "?"} / torch ${version.__version__} / node ${process.version}`;
  if (cuda.is_available()) {
    const name = (cuda as unknown as { get_device_name?: (d?: number) => string }).get_device_name?.(0) ?? "cuda";
    return { device: `cuda ${name}`, software };
  }
  return { device: `cpu ${os.cpus()[0]?.model.trim() ?? "unknown"} (${os.cpus().length} cores)`, software };
}

/** The cached measured profile of this machine, when `tessera plan --calibrate` made one. */
export function cachedLocalProfile(cacheDir = defaultCacheDir()): HardwareProfile | undefined {
  const { device, software } = localDevice();
  return readCachedProfile(device, software, cacheDir);
}

/** The profile timings of `shapes` give (what measureHardwareProfile fits, without the cache). */
export function profileFromTimings(t: CalibrationTimings, shapes: CalibrationShapes, base: HardwareProfile): HardwareProfile {
  return profileFromMeasurements(
    {
      device: t.device,
      software: t.software,
      gemm: shapes.gemm.map((g, i) => ({ ...g, seconds: t.gemm[i]! })),
      attention: [{ ...shapes.attention, seconds: t.attention }],
      memoryCopy: { bytes: shapes.copyBytes, seconds: t.copy },
      collectives: collectivesOf(t),
      framework: { oneLayer: t.framework[0], twoLayers: t.framework[1], layer: shapes.layer },
      ...(t.pipeline === undefined ? {} : { pipeline: t.pipeline }),
      ...(t.dataParallel === undefined ? {} : { dataParallel: t.dataParallel }),
      ...(t.replicatedPipeline === undefined ? {} : { replicatedPipeline: t.replicatedPipeline }),
      concurrency: concurrencyOf(t),
      ...(t.layers === undefined ? {} : { layers: t.layers }),
    },
    base,
  );
}

/** Runs `nproc` ranks of the calibration worker and returns rank 0's timings. */
async function runRanks(nproc: number, shapes: CalibrationShapes, threads: number): Promise<CalibrationTimings> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "tessera-calibrate-"));
  const out = path.join(dir, "timings.json");
  const worker = fileURLToPath(new URL("./calibrate_worker.ts", import.meta.url));
  const port = await freePort();
  try {
    const errors: string[] = [];
    const codes = await Promise.all(
      Array.from(
        { length: nproc },
        (_, rank) =>
          new Promise<number | null>((resolve) => {
            const child = spawn(process.execPath, [...youngGenerationFlags(), "--import", import.meta.resolve("tsx"), worker], {
              stdio: ["ignore", "ignore", "pipe"],
              env: {
                ...process.env,
                RANK: String(rank),
                WORLD_SIZE: String(nproc),
                MASTER_ADDR: "127.0.0.1",
                MASTER_PORT: String(port),
                TESSERA_CALIBRATE_SHAPES: JSON.stringify(shapes),
                TESSERA_CALIBRATE_OUT: out,
                OMP_NUM_THREADS: String(threads),
                TESSERA_CALIBRATE_THREADS: String(threads),
              },
            });
            let err = "";
            child.stderr.on("data", (d: Buffer) => (err += d.toString()));
            child.on("exit", (code) => {
              if (code !== 0) errors.push(`rank ${rank}: ${err.trim().split("\n").slice(-3).join(" / ")}`);
              resolve(code);
            });
          }),
      ),
    );
    if (codes.some((c) => c !== 0)) throw new Error(`calibration ranks failed: ${errors.join("; ")}`);
    return JSON.parse(readFileSync(out, "utf8")) as CalibrationTimings;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface CalibrateOptions {
  /** Ranks per node to measure with (default: the CUDA device count, else the base profile's devicesPerNode). */
  nproc?: number;
  model?: ModelProfile;
  seqLen?: number;
  /** The base profile: what timings cannot give (peak for MFU, memory size, host figures). */
  base: HardwareProfile;
  cacheDir?: string;
  /** Measure again even when a profile for this device and software is cached. */
  refresh?: boolean;
  /** Intra-op threads per rank (default 1, as `tessera run` gives each CPU rank). */
  threads?: number;
}

/** Measures this machine (or returns its cached profile) and caches the result; the planner uses it. */
export async function calibrate(options: CalibrateOptions): Promise<{ profile: HardwareProfile; seconds: number; file: string }> {
  const start = performance.now();
  const nproc = options.nproc ?? options.base.devicesPerNode;
  const seqLen = options.seqLen ?? 512;
  // Layers are timed on CPU ranks only: a GPU's kernels run behind its launches, which the count models.
  const layers = options.model === undefined || cuda.is_available() ? {} : layerCalibrationShapes(options.model, seqLen, nproc);
  const shapes = { ...calibrationShapes(options.model, seqLen), ...layers };
  const local = localDevice();
  let timings: CalibrationTimings | undefined;
  const measured = async (): Promise<CalibrationTimings> => (timings ??= await runRanks(nproc, shapes, options.threads ?? 1));
  const probe: HardwareProbe = {
    device: async () => local.device,
    software: async () => local.software,
    timeGemm: async (m, n, k) => (await measured()).gemm[shapes.gemm.findIndex((g) => g.m === m && g.n === n && g.k === k)]!,
    timeAttention: async () => (await measured()).attention,
    timeMemoryCopy: async () => (await measured()).copy,
    timeAllReduce: async (scope, size, bytes) =>
      scope === "inter" ? undefined : (await measured()).allReduce.find(([n, b]) => n === size && b === bytes)?.[2],
    timeCollective: async (kind, scope, size, bytes) => {
      const t = await measured();
      const samples = kind === "all_gather" ? t.allGather : t.reduceScatter;
      return scope === "inter" ? undefined : samples?.find(([n, b]) => n === size && b === bytes)?.[2];
    },
    timeP2p: async (scope, bytes) => (scope === "inter" ? undefined : (await measured()).p2p?.find(([b]) => b === bytes)?.[1]),
    timeFramework: async (layers) => (await measured()).framework[layers - 1]!,
    timeConcurrency: async () => concurrencyOf(await measured()) ?? { cores: os.cpus().length, samples: [] },
    timeLayers: async () => (await measured()).layers,
    timePipeline: async () => (await measured()).pipeline,
    timeDataParallel: async () => (await measured()).dataParallel,
    timeReplicatedPipeline: async () => (await measured()).replicatedPipeline,
  };
  const base = { ...options.base, devicesPerNode: nproc };
  const profile = await measureHardwareProfile(probe, base, { cacheDir: options.cacheDir, refresh: options.refresh, shapes });
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  return {
    profile,
    seconds: (performance.now() - start) / 1000,
    file: path.join(cacheDir, hardwareCacheKey(local.device, local.software)),
  };
}
