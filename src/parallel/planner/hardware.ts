// Hardware profile: what one device computes, holds and moves, and the links between devices. Presets
// are nominal data-sheet figures with stated achievable fractions; a measured profile (measure.ts) has
// the same shape, so the cost model never knows which it got.
import { readJsonObject } from "./json_file.js";

/** Alpha-beta link: a message of B bytes costs latency + B / bandwidth per step of a collective. */
export interface LinkProfile {
  /** Achievable collective bus bandwidth per device, bytes/s (NCCL's "busbw" at large messages). */
  bandwidthBytesPerS: number;
  latencyS: number;
  /** Measured bus bandwidth by group size, [groupSize, bytes/s]; overrides bandwidthBytesPerS. */
  byGroupSize?: Array<[number, number]>;
  /**
   * All-gather and reduce-scatter measured on their own, by group size: [groupSize, seconds at no
   * bytes, full (unsharded) message bytes/s]. Where present they replace the all-reduce-derived
   * estimate: Gloo's CPU all-gather and reduce-scatter are not half an all-reduce (they take 2-3
   * times an all-reduce of the same full bytes).
   */
  byKind?: Partial<Record<"all_gather" | "reduce_scatter", Array<[number, number, number]>>>;
  /**
   * A point-to-point send/recv (a pipeline's activations and gradients, ring attention's K/V) measured
   * on its own: [seconds at no bytes, bytes/s] of one message. Absent: latencyS + bytes over the
   * collective bandwidth (Gloo's all-reduce latency is per ring step of several messages, not one
   * message's).
   */
  p2p?: [number, number];
}

export interface HardwareProfile {
  name: string;
  source: "preset" | "measured";
  /** Dense bf16 peak FLOP/s of one device (the MFU denominator). */
  peakFlops: number;
  /** GEMM efficiency (fraction of peak) as a function of the GEMM's smallest per-device dimension x:
   *  eff(x) = max · x / (x + halfDim). Small matrices under-fill the SMs and are launch-bound. */
  gemm: { maxEfficiency: number; halfDim: number };
  /** Fraction of peak reached by fused (flash) attention kernels and by batched score GEMMs. */
  attentionEfficiency: number;
  /** FP8 tensor cores (H100, H200): dense FP8 peak FLOP/s, the fraction large FP8 GEMMs reach with
   *  fast accumulation (the bf16 curve's shape, scaled), and `splitAccumulatorSpeed`, the rate of a GEMM
   *  that promotes its partial sums to FP32 (cuBLAS's split accumulator) as a fraction of the fast one's
   *  (absent: the same rate). Absent: FP8 matmuls are refused. */
  fp8?: { peakFlops: number; maxEfficiency: number; splitAccumulatorSpeed?: number };
  memoryBytes: number;
  /** Achievable HBM bandwidth (bytes/s): what memory-bound elementwise ops and the optimizer see. */
  memoryBandwidthBytesPerS: number;
  /** CUDA context, cuBLAS/NCCL workspaces: device memory the framework never gets. */
  reservedBytes: number;
  devicesPerNode: number;
  intraNode: LinkProfile;
  /** Per-device share of the node's network (all devices of a node communicate at once). */
  interNode: LinkProfile;
  host: {
    /** Host RAM usable for offload per device. */
    memoryBytesPerDevice: number;
    /** Host-device copy bandwidth per device. */
    pcieBytesPerS: number;
    /** CPU Adam throughput per device's share of the host cores, parameters/s. */
    adamParamsPerS: number;
  };
  measured?: { device: string; software: string; measuredAt: string };
  /**
   * Framework time on the critical path where ops dispatch synchronously (CPU ranks): per decoder layer
   * per micro-batch (forward + backward) and per step (embedding, loss, optimizer), measured by
   * `tessera plan --calibrate` on a model too narrow for its math to count. Absent on GPU presets: CUDA
   * launches run ahead of the kernels they queue. `pipelineTaskS`: on ranks sharing cores, the
   * pipeline executor's own work per task (a micro-batch's forward or backward of one chunk), in
   * seconds at the all-busy rate, which the pipeline simulation adds to every task (measure.ts).
   * `dataParallelStepS` and `replicaStepS`: there, what data-parallel replicas add to a step beyond
   * their modelled collectives (measure.ts, replicaOverhead), without and with a pipeline, charged
   * once per step.
   */
  overhead?: { perLayerS: number; perStepS: number; pipelineTaskS?: number; dataParallelStepS?: number; replicaStepS?: number };
  /**
   * Ranks that share a machine's cores (CPU ranks; a GPU per rank is independent, and GPU profiles
   * leave this out): `cores` of the machine, and `speed` as [busy ranks, a rank's compute speed]
   * pairs, the speed relative to all ranks busy at once (what the rest of the profile is measured
   * at). With k busy ranks on C cores each gets about min(1, C/k) of a core, so a pipeline stage
   * computing while the others wait in the bubble runs faster. Measured by `tessera plan --calibrate`.
   */
  sharedCores?: { cores: number; speed: Array<[number, number]> };
  /**
   * The calibrated model's decoder layer timed on this machine (CPU ranks, `tessera plan
   * --calibrate`), which the cost model charges in place of its count of the layer's GEMMs,
   * attention and elementwise traffic wherever a problem's model and sequence are the ones timed.
   */
  layers?: MeasuredLayers;
}

/**
 * One decoder layer's forward and backward as tessera runs it, timed with every rank running the same
 * at once (the rate the rest of a CPU profile is measured at), so that the layer's framework time and
 * the cores' contention are in the measurement, not estimated. `model`: the layer's shapes (a
 * Llama-style layer: RMSNorm, gated MLP, no biases) and the sequence it ran at. `samples`: [tp,
 * tokens, forward seconds, backward seconds]; at tp > 1 one rank's layer under tessera's
 * tensor-parallel executor with sequence parallelism (every TP group at once), its collectives
 * included: the cost model charges no TP collective of its own for such a layer.
 */
export interface MeasuredLayers {
  model: { hidden: number; ffn: number; heads: number; kvHeads: number; headDim: number; seq: number; precision: string };
  samples: Array<[number, number, number, number]>;
}

const GiB = 2 ** 30;
const GB = 1e9;
const us = 1e-6;

/**
 * Preset GEMM curve, one for all GPUs: 80 % of peak for large GEMMs (cuBLAS bf16 on A100/H100 reaches
 * 75–85 % at ≥ 8k squares), half of that at a 250-wide dimension (narrow TP shards are launch- and
 * wave-quantisation-bound). Attention kernels reach ~55 % (FlashAttention-2 forward+backward on A100).
 */
const GEMM = { maxEfficiency: 0.8, halfDim: 250 };
const ATTENTION = 0.55;
/**
 * FP8 GEMMs (cuBLASLt on H100 SXM) reach ~1.3–1.4 PFLOP/s of the 1,979 TFLOP/s dense peak at large
 * squares: 0.68 of it, a lower fraction than bf16 (the same memory traffic feeds twice the math).
 */
const FP8_GEMM_EFFICIENCY = 0.68;
/**
 * Hopper's FP8 tensor cores accumulate in limited precision; with cuBLAS's split accumulator
 * (CUBLASLT_MATMUL_DESC_FAST_ACCUM off) the kernel promotes the partial sums to FP32 registers every
 * 128 elements (pytorch/pytorch issue 147971), and is slower: fast accumulation measured 1.1-1.2x
 * faster (a float8 benchmark in pytorch/ao issue 2377, June 2025; torchao's recipe keeps it for the
 * forward GEMM only, torchao/float8/config.py Float8LinearConfig). The midpoint: 1/1.15 of the fast
 * rate. Transformer Engine runs dgrad and wgrad this way (cost.ts, fp8BackwardGemmExtra).
 */
const FP8_SPLIT_ACCUMULATOR_SPEED = 1 / 1.15;
/** Achievable fraction of data-sheet HBM bandwidth for streaming elementwise kernels. */
const HBM_FRACTION = 0.8;
/** NCCL reaches ~90 % of the NIC line rate for large inter-node all-reduces. */
const NIC_FRACTION = 0.9;

function gpu(p: {
  name: string;
  tflops: number;
  memGiB: number;
  hbmTBs: number;
  intraGBs: number;
  nicGbps: number;
  hostGiB: number;
  pcieGBs: number;
  perNode?: number;
  fp8Tflops?: number;
}): HardwareProfile {
  return {
    ...(p.fp8Tflops === undefined
      ? {}
      : { fp8: { peakFlops: p.fp8Tflops * 1e12, maxEfficiency: FP8_GEMM_EFFICIENCY, splitAccumulatorSpeed: FP8_SPLIT_ACCUMULATOR_SPEED } }),
    name: p.name,
    source: "preset",
    peakFlops: p.tflops * 1e12,
    gemm: GEMM,
    attentionEfficiency: ATTENTION,
    memoryBytes: p.memGiB * GiB,
    memoryBandwidthBytesPerS: p.hbmTBs * 1e12 * HBM_FRACTION,
    reservedBytes: 1.5 * GiB,
    devicesPerNode: p.perNode ?? 8,
    intraNode: { bandwidthBytesPerS: p.intraGBs * GB, latencyS: 8 * us },
    interNode: { bandwidthBytesPerS: (p.nicGbps / 8) * GB * NIC_FRACTION, latencyS: 20 * us },
    host: { memoryBytesPerDevice: p.hostGiB * GiB, pcieBytesPerS: p.pcieGBs * GB, adamParamsPerS: 1e9 },
  };
}

// intraGBs: NCCL all-reduce bus bandwidth inside a node (A100 NVLink3 ~235 GB/s, H100 NVLink4 ~370 GB/s,
// MI250 Infinity Fabric ~100 GB/s). nicGbps: one NIC per device (HDR 200, NDR 400, MI250: 200 Gb/s per
// GCD pair → 100). hostGiB: host RAM per device, usable 80 % of a DGX-class node (1–2 TiB / 8).
const presets: Record<string, HardwareProfile> = {
  "a100-40gb": gpu({ name: "A100-40GB", tflops: 312, memGiB: 40, hbmTBs: 1.555, intraGBs: 235, nicGbps: 200, hostGiB: 102, pcieGBs: 22 }),
  "a100-80gb": gpu({ name: "A100-80GB", tflops: 312, memGiB: 80, hbmTBs: 2.039, intraGBs: 235, nicGbps: 200, hostGiB: 204, pcieGBs: 22 }),
  "h100-sxm-80gb": gpu({
    name: "H100-SXM-80GB",
    tflops: 989,
    memGiB: 80,
    hbmTBs: 3.35,
    intraGBs: 370,
    nicGbps: 400,
    hostGiB: 204,
    pcieGBs: 50,
    fp8Tflops: 1979,
  }),
  h200: gpu({
    name: "H200",
    tflops: 989,
    memGiB: 141,
    hbmTBs: 4.8,
    intraGBs: 370,
    nicGbps: 400,
    hostGiB: 204,
    pcieGBs: 50,
    fp8Tflops: 1979,
  }),
  "mi250-gcd": gpu({ name: "MI250 GCD", tflops: 191.5, memGiB: 64, hbmTBs: 1.6, intraGBs: 100, nicGbps: 100, hostGiB: 51, pcieGBs: 22 }),
  // One process per socket-half of a 2-socket AVX-512/AMX server: ~1 TFLOP/s bf16 with oneDNN, DDR5
  // bandwidth share, Gloo over shared memory inside the node and 100 GbE between nodes. The processes'
  // memory is the host's, so there is nothing to offload to: 0 host bytes makes offload never fit.
  cpu: {
    name: "CPU node",
    source: "preset",
    peakFlops: 1e12,
    gemm: { maxEfficiency: 0.6, halfDim: 256 },
    attentionEfficiency: 0.3,
    memoryBytes: 64 * GiB,
    memoryBandwidthBytesPerS: 60 * GB,
    reservedBytes: 0.5 * GiB,
    devicesPerNode: 4,
    intraNode: { bandwidthBytesPerS: 8 * GB, latencyS: 30 * us },
    interNode: { bandwidthBytesPerS: (12.5 * GB * NIC_FRACTION) / 4, latencyS: 50 * us },
    host: { memoryBytesPerDevice: 0, pcieBytesPerS: 1, adamParamsPerS: 1 },
  },
};

const aliases: Record<string, string> = {
  a100: "a100-80gb",
  h100: "h100-sxm-80gb",
  "h100-80gb": "h100-sxm-80gb",
  mi250: "mi250-gcd",
  "cpu-node": "cpu",
};

/**
 * The profile on a cluster whose nodes have `gbpsPerNode` of network in all (e.g. Jean Zay's A100
 * nodes: 4 × 100 Gb/s Omni-Path, not a DGX's 8 × 200 Gb/s), shared by the node's devices, at the
 * fraction of line rate NCCL reaches.
 */
export function withNodeNetwork(profile: HardwareProfile, gbpsPerNode: number): HardwareProfile {
  const bandwidthBytesPerS = ((gbpsPerNode / 8) * GB * NIC_FRACTION) / profile.devicesPerNode;
  return { ...profile, interNode: { ...profile.interNode, bandwidthBytesPerS, byGroupSize: undefined, byKind: undefined, p2p: undefined } };
}

export function hardwarePresetNames(): string[] {
  return Object.keys(presets);
}

export function hardwarePreset(name: string): HardwareProfile {
  const key = name.toLowerCase();
  const preset = presets[aliases[key] ?? key];
  if (preset === undefined) throw new Error(`unknown GPU preset '${name}' (known: ${hardwarePresetNames().join(", ")})`);
  return preset;
}

/** Bus bandwidth of a collective over `groupSize` devices on this link (nearest measured size at or below). */
export function linkBandwidth(link: LinkProfile, groupSize: number): number {
  let best: [number, number] | undefined;
  for (const point of link.byGroupSize ?? []) if (point[0] <= groupSize && (best === undefined || point[0] > best[0])) best = point;
  return best?.[1] ?? link.bandwidthBytesPerS;
}

type Json = Record<string, unknown>;

function field(obj: Json, path: string, key: string): number {
  const v = obj[key];
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0)
    throw new Error(`hardware profile: '${path}${key}' must be a non-negative number, got ${JSON.stringify(v)}`);
  return v;
}

function object(obj: Json, path: string, key: string): Json {
  const v = obj[key];
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error(`hardware profile: '${path}${key}' must be an object`);
  return v as Json;
}

function link(obj: Json, key: string): LinkProfile {
  const l = object(obj, "", key);
  const out: LinkProfile = { bandwidthBytesPerS: field(l, `${key}.`, "bandwidthBytesPerS"), latencyS: field(l, `${key}.`, "latencyS") };
  if (l.byGroupSize !== undefined) {
    const points = l.byGroupSize;
    if (
      !Array.isArray(points) ||
      !points.every((p) => Array.isArray(p) && p.length === 2 && p.every((x) => typeof x === "number" && x > 0))
    ) {
      throw new Error(`hardware profile: '${key}.byGroupSize' must be a list of [groupSize, bytesPerS] pairs`);
    }
    out.byGroupSize = points as Array<[number, number]>;
  }
  if (l.byKind !== undefined) {
    const kinds = object(l, `${key}.`, "byKind");
    out.byKind = {};
    for (const [kind, points] of Object.entries(kinds)) {
      if (kind !== "all_gather" && kind !== "reduce_scatter")
        throw new Error(`hardware profile: '${key}.byKind.${kind}' is not a collective kind`);
      if (
        !Array.isArray(points) ||
        !points.every(
          (p) => Array.isArray(p) && p.length === 3 && p.every((x) => typeof x === "number" && x >= 0 && Number.isFinite(x)) && p[2] > 0,
        )
      ) {
        throw new Error(`hardware profile: '${key}.byKind.${kind}' must be a list of [groupSize, latencyS, bytesPerS] triples`);
      }
      out.byKind[kind] = points as Array<[number, number, number]>;
    }
  }
  if (l.p2p !== undefined) {
    const p = l.p2p;
    if (!Array.isArray(p) || p.length !== 2 || !p.every((x) => typeof x === "number" && x >= 0 && Number.isFinite(x)) || p[1] === 0)
      throw new Error(`hardware profile: '${key}.p2p' must be a [latencyS, bytesPerS] pair (bytesPerS positive)`);
    out.p2p = p as [number, number];
  }
  return out;
}

function measuredLayers(l: Json): MeasuredLayers {
  const m = object(l, "layers.", "model");
  const model = {
    hidden: field(m, "layers.model.", "hidden"),
    ffn: field(m, "layers.model.", "ffn"),
    heads: field(m, "layers.model.", "heads"),
    kvHeads: field(m, "layers.model.", "kvHeads"),
    headDim: field(m, "layers.model.", "headDim"),
    seq: field(m, "layers.model.", "seq"),
    precision: m.precision,
  };
  if (typeof model.precision !== "string") throw new Error("hardware profile: 'layers.model.precision' must be a string");
  const samples = l.samples;
  if (
    !Array.isArray(samples) ||
    samples.length === 0 ||
    !samples.every(
      (p) =>
        Array.isArray(p) &&
        p.length === 4 &&
        p.every((x) => typeof x === "number" && Number.isFinite(x) && x > 0) &&
        Number.isInteger(p[0]),
    )
  ) {
    throw new Error("hardware profile: 'layers.samples' must be a non-empty list of [tp, tokens, forwardS, backwardS] of positive numbers");
  }
  return { model: { ...model, precision: model.precision }, samples: samples as Array<[number, number, number, number]> };
}

/**
 * Checks a hardware profile read from JSON (the schema is the HardwareProfile interface, all numbers in
 * SI units: bytes, bytes/s, FLOP/s, seconds) and returns it typed; errors name the offending field.
 */
export function validateHardwareProfile(value: unknown): HardwareProfile {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("hardware profile: expected a JSON object");
  const obj = value as Json;
  if (typeof obj.name !== "string" || obj.name === "") throw new Error("hardware profile: 'name' must be a non-empty string");
  const gemm = object(obj, "", "gemm");
  const host = object(obj, "", "host");
  const profile: HardwareProfile = {
    name: obj.name,
    source: obj.source === "measured" ? "measured" : "preset",
    peakFlops: field(obj, "", "peakFlops"),
    gemm: { maxEfficiency: field(gemm, "gemm.", "maxEfficiency"), halfDim: field(gemm, "gemm.", "halfDim") },
    attentionEfficiency: field(obj, "", "attentionEfficiency"),
    memoryBytes: field(obj, "", "memoryBytes"),
    memoryBandwidthBytesPerS: field(obj, "", "memoryBandwidthBytesPerS"),
    reservedBytes: field(obj, "", "reservedBytes"),
    devicesPerNode: field(obj, "", "devicesPerNode"),
    intraNode: link(obj, "intraNode"),
    interNode: link(obj, "interNode"),
    host: {
      memoryBytesPerDevice: field(host, "host.", "memoryBytesPerDevice"),
      pcieBytesPerS: field(host, "host.", "pcieBytesPerS"),
      adamParamsPerS: field(host, "host.", "adamParamsPerS"),
    },
  };
  for (const [key, v] of [
    ["peakFlops", profile.peakFlops],
    ["memoryBytes", profile.memoryBytes],
    ["memoryBandwidthBytesPerS", profile.memoryBandwidthBytesPerS],
  ] as const) {
    if (v === 0) throw new Error(`hardware profile: '${key}' must be positive`);
  }
  for (const [key, v] of [
    ["gemm.maxEfficiency", profile.gemm.maxEfficiency],
    ["attentionEfficiency", profile.attentionEfficiency],
  ] as const) {
    if (v <= 0 || v > 1) throw new Error(`hardware profile: '${key}' must be in (0, 1], got ${v}`);
  }
  if (!Number.isInteger(profile.devicesPerNode) || profile.devicesPerNode < 1)
    throw new Error("hardware profile: 'devicesPerNode' must be a positive integer");
  if (obj.fp8 !== undefined) {
    const fp8 = object(obj, "", "fp8");
    profile.fp8 = { peakFlops: field(fp8, "fp8.", "peakFlops"), maxEfficiency: field(fp8, "fp8.", "maxEfficiency") };
    if (fp8.splitAccumulatorSpeed !== undefined) profile.fp8.splitAccumulatorSpeed = field(fp8, "fp8.", "splitAccumulatorSpeed");
    for (const [key, v] of [
      ["maxEfficiency", profile.fp8.maxEfficiency],
      ["splitAccumulatorSpeed", profile.fp8.splitAccumulatorSpeed ?? 1],
    ] as const) {
      if (v <= 0 || v > 1) throw new Error(`hardware profile: 'fp8.${key}' must be in (0, 1], got ${v}`);
    }
  }
  if (obj.overhead !== undefined) {
    const o = object(obj, "", "overhead");
    profile.overhead = { perLayerS: field(o, "overhead.", "perLayerS"), perStepS: field(o, "overhead.", "perStepS") };
    if (o.pipelineTaskS !== undefined) profile.overhead.pipelineTaskS = field(o, "overhead.", "pipelineTaskS");
    for (const key of ["dataParallelStepS", "replicaStepS"] as const)
      if (o[key] !== undefined) profile.overhead[key] = field(o, "overhead.", key);
  }
  if (obj.sharedCores !== undefined) {
    const c = object(obj, "", "sharedCores");
    const speed = c.speed;
    if (
      !Array.isArray(speed) ||
      speed.length === 0 ||
      !speed.every((p) => Array.isArray(p) && p.length === 2 && p.every((x) => typeof x === "number" && x > 0 && Number.isFinite(x)))
    ) {
      throw new Error("hardware profile: 'sharedCores.speed' must be a non-empty list of [busyRanks, speed] pairs of positive numbers");
    }
    profile.sharedCores = { cores: field(c, "sharedCores.", "cores"), speed: speed as Array<[number, number]> };
  }
  if (obj.layers !== undefined) profile.layers = measuredLayers(object(obj, "", "layers"));
  if (obj.measured !== undefined) {
    const m = object(obj, "", "measured");
    if (typeof m.device !== "string" || typeof m.software !== "string" || typeof m.measuredAt !== "string") {
      throw new Error("hardware profile: 'measured' must have string fields device, software, measuredAt");
    }
    profile.measured = { device: m.device, software: m.software, measuredAt: m.measuredAt };
  }
  return profile;
}

export function loadHardwareProfile(file: string): HardwareProfile {
  return validateHardwareProfile(readJsonObject(file, "hardware profile"));
}
