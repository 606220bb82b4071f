// The search space: what a plan is, which plans are valid for a model, a batch and a cluster, and the
// `--fix` choices a user can hold.
import type { HardwareProfile } from "./hardware.js";
import { nodeLocalDp } from "./layout.js";
import type { ModelProfile } from "./model_profile.js";
import type { GradientReduce, Stack } from "./stack.js";

export type Recompute = "none" | "selective" | "full";
export type Offload = "none" | "optimizer" | "optimizer+params";
export type ZeroStage = 0 | 1 | 2 | 3;
/** Training precision: bf16 weights, gradients and activations with fp32 Adam states and master
 *  weights ("bf16-mixed"), everything in fp32 ("fp32"), or bf16-mixed with the layers' GEMMs in FP8
 *  (Transformer Engine's recipe; "fp8": a what-if on devices with FP8 tensor cores, which tessera's
 *  runtime does not execute). */
export type Precision = "bf16-mixed" | "fp32" | "fp8";

/** Precisions the runtime executes; the others are what-ifs the output marks. */
export function executedPrecision(precision: Precision | undefined): boolean {
  return precision !== "fp8";
}

export interface Plan {
  dp: number;
  tp: number;
  pp: number;
  /**
   * Context parallelism: each sequence split over `cp` ranks (ring attention passes K/V between them;
   * weights are replicated over cp and their gradients reduced over dp·cp). A what-if: the runtime
   * does not execute it, so the free search keeps cp = 1 and only `--fix cp=N` evaluates it.
   */
  cp: number;
  /** Virtual stages (model chunks) per pipeline rank: 1 is plain 1F1B, more is interleaved 1F1B. */
  vpp: number;
  microBatch: number;
  gradAccum: number;
  zero: ZeroStage;
  recompute: Recompute;
  /** With full recompute: how many layers of each pipeline stage are recomputed (the rest keep all). */
  recomputeLayers: number;
  sequenceParallel: boolean;
  offload: Offload;
  /**
   * FSDP's HYBRID_SHARD: ZeRO shards over the data-parallel ranks inside one node and the node-level
   * replicas all-reduce gradients across nodes (meaningful with zero ≥ 1 and DP spanning nodes).
   */
  hybridShard: boolean;
}

/** One process, nothing split or sharded; `changes` give the plan that differs from it. */
export function singleProcessPlan(changes: Partial<Plan> = {}): Plan {
  return {
    dp: 1,
    tp: 1,
    pp: 1,
    cp: 1,
    vpp: 1,
    microBatch: 1,
    gradAccum: 1,
    zero: 0,
    recompute: "none",
    recomputeLayers: 0,
    sequenceParallel: false,
    offload: "none",
    hybridShard: false,
    ...changes,
  };
}

/** What the plan is for: a model, a batch, a cluster. */
export interface Problem {
  model: ModelProfile;
  hardware: HardwareProfile;
  gpus: number;
  gpusPerNode: number;
  seqLen: number;
  globalBatch: number;
  /** Fused attention kernels that never store the s×s scores (libtorch SDPA): true for tessera. */
  flashAttention: boolean;
  /** Let tensor parallelism span nodes (off: TP groups stay on NVLink). */
  tpAcrossNodes: boolean;
  /** Default "bf16-mixed". */
  precision?: Precision;
  /**
   * Tensor-parallel collectives overlapped with the GEMMs they feed (Megatron-Core's userbuffers
   * all-gather/reduce-scatter overlap): a what-if the runtime does not execute (default false).
   */
  tpCommOverlap?: boolean;
  /** The software that runs the plan (stack.ts): tessera's executors unless a published result's. */
  stack?: Stack;
  /**
   * The dtype gradients are reduced in where the run states its own (a published row's configuration);
   * otherwise the stack's (stack.ts, gradientReduce).
   */
  gradientReduce?: GradientReduce;
}

export type Fixed = Partial<Plan>;

const fixKeys: Record<string, keyof Plan> = {
  dp: "dp",
  tp: "tp",
  pp: "pp",
  cp: "cp",
  context_parallel: "cp",
  vpp: "vpp",
  mbs: "microBatch",
  micro_batch: "microBatch",
  ga: "gradAccum",
  grad_accum: "gradAccum",
  zero: "zero",
  recompute: "recompute",
  recompute_layers: "recomputeLayers",
  sp: "sequenceParallel",
  sequence_parallel: "sequenceParallel",
  offload: "offload",
  hybrid_shard: "hybridShard",
  hsdp: "hybridShard",
};

function positiveInt(key: string, value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new Error(`--fix ${key}=${value}: expected a positive integer`);
  return Number(value);
}

/** Parses `tp=8,pp=2,mbs=1,recompute=full,zero=1,vpp=5,hybrid_shard=true`. */
export function parseFix(text: string): Fixed {
  const fixed: Record<string, unknown> = {};
  for (const part of text.split(",").filter((p) => p.trim() !== "")) {
    const match = /^\s*([a-z_]+)\s*=\s*([a-z0-9+]+)\s*$/i.exec(part);
    if (match === null)
      throw new Error(`--fix: malformed '${part}' (expected key=value, e.g. tp=8,pp=2,mbs=1,recompute=full,zero=1,vpp=5)`);
    const [, rawKey, value] = match as unknown as [string, string, string];
    const key = fixKeys[rawKey.toLowerCase()];
    if (key === undefined) throw new Error(`--fix: unknown choice '${rawKey}' (known: ${Object.keys(fixKeys).join(", ")})`);
    if (key === "recompute") {
      if (!["none", "selective", "full"].includes(value)) throw new Error(`--fix recompute=${value}: expected none, selective or full`);
      fixed[key] = value;
    } else if (key === "offload") {
      if (!["none", "optimizer", "optimizer+params", "params"].includes(value))
        throw new Error(`--fix offload=${value}: expected none, optimizer or optimizer+params`);
      fixed[key] = value === "params" ? "optimizer+params" : value;
    } else if (key === "sequenceParallel" || key === "hybridShard") {
      if (!["0", "1", "true", "false"].includes(value)) throw new Error(`--fix ${rawKey}=${value}: expected true or false`);
      fixed[key] = value === "1" || value === "true";
    } else if (key === "zero") {
      if (!/^[0-3]$/.test(value)) throw new Error(`--fix zero=${value}: expected 0, 1, 2 or 3`);
      fixed[key] = Number(value);
    } else {
      fixed[key] = positiveInt(rawKey, value);
    }
  }
  return fixed as Fixed;
}

/** The parallel layout of a plan; search.ts chooses recompute and offload for each shape. */
export type Shape = Pick<
  Plan,
  "dp" | "tp" | "pp" | "cp" | "vpp" | "microBatch" | "gradAccum" | "zero" | "sequenceParallel" | "hybridShard"
>;

function divisors(n: number): number[] {
  const small: number[] = [];
  const large: number[] = [];
  for (let i = 1; i * i <= n; i++) {
    if (n % i !== 0) continue;
    small.push(i);
    if (i * i !== n) large.unshift(n / i);
  }
  return [...small, ...large];
}

/** The plan's executed-by-the-runtime status: choices that are what-ifs, named for the output. */
export function whatIfs(problem: Pick<Problem, "precision" | "tpCommOverlap">, plan: Pick<Plan, "cp" | "tp">): string[] {
  const out: string[] = [];
  if (plan.cp > 1) out.push(`cp=${plan.cp} (context parallelism)`);
  if (!executedPrecision(problem.precision)) out.push("fp8 matmuls");
  if (problem.tpCommOverlap === true && plan.tp > 1) out.push("TP communication overlapped with GEMMs");
  return out;
}

/** Which TP degrees the model's heads allow: q heads split evenly, k/v heads split or replicated. */
function tpAllowed(model: ModelProfile, tp: number): boolean {
  return model.heads % tp === 0 && (model.kvHeads % tp === 0 || tp % model.kvHeads === 0);
}

const ZERO_STAGES: ZeroStage[] = [0, 1, 2, 3];

/**
 * Hybrid sharding is a different plan only with ZeRO and a DP group that spans nodes. The free search
 * also skips it when no two DP ranks share a node (a node-local shard of 1 is ZeRO-0 with extra
 * collectives); a user may still fix it there.
 */
function hybridChoices(problem: Problem, dp: number, tp: number, cp: number, zero: ZeroStage, fixed: Fixed): boolean[] {
  const local = nodeLocalDp(problem, { dp, tp, cp });
  const valid = zero >= 1 && local < dp * cp;
  if (fixed.hybridShard !== undefined) return fixed.hybridShard && !valid ? [] : [fixed.hybridShard];
  return valid && local > 1 ? [false, true] : [false];
}

/**
 * Virtual stages to try: every chunk needs a layer (stages.ts splits unevenly when it must); the free
 * search tries the vpp that split the layers into equal chunks when pp divides them, a fixed vpp any count.
 */
function vppChoices(layers: number, pp: number, fixed: Fixed): number[] {
  if (pp === 1) return [1];
  if (fixed.vpp !== undefined) return pp * fixed.vpp <= layers ? [fixed.vpp] : [];
  return divisors(Math.floor(layers / pp)).filter((v) => v === 1 || layers % (pp * v) === 0);
}

/**
 * Calls `visit` for every valid shape that agrees with `fixed`. Rules: dp·tp·pp·cp = GPUs, cp = 1 unless
 * fixed (a what-if) and then only with fused attention; TP a power of two
 * dividing the heads, inside a node unless allowed across; every one of the pp·vpp chunks gets a layer
 * (uneven splits allowed, planner/stages.ts); the global batch
 * is dp · micro-batch · accumulation; interleaving needs the accumulation steps to be a multiple of pp
 * (Megatron's rule); ZeRO-2/3 shard gradients that a pipeline accumulates across micro-batches, so with
 * pp > 1 only stages 0–1 apply; ZeRO stages > 0 need dp > 1 (else they are stage 0). Sequence parallel
 * is on wherever TP is (it moves the same bytes as TP's all-reduces and divides norm and dropout work
 * and memory by t), unless fixed off. Hybrid sharding: see `hybridChoices`.
 */
export function forEachShape(problem: Problem, fixed: Fixed, visit: (shape: Shape) => void): void {
  const { model, gpus, globalBatch } = problem;
  const cp = fixed.cp ?? 1;
  if (gpus % cp !== 0 || (cp > 1 && !problem.flashAttention)) return;
  const tpLimit = problem.tpAcrossNodes ? gpus : Math.min(gpus, problem.gpusPerNode);
  for (let tp = 1; tp <= tpLimit; tp *= 2) {
    if ((gpus / cp) % tp !== 0 || !tpAllowed(model, tp) || (fixed.tp !== undefined && fixed.tp !== tp)) continue;
    for (const pp of divisors(gpus / (tp * cp))) {
      if (model.layers < pp || (fixed.pp !== undefined && fixed.pp !== pp)) continue;
      const dp = gpus / (tp * cp * pp);
      if (globalBatch % dp !== 0 || (fixed.dp !== undefined && fixed.dp !== dp)) continue;
      for (const microBatch of divisors(globalBatch / dp)) {
        const gradAccum = globalBatch / (dp * microBatch);
        if (
          (fixed.microBatch !== undefined && fixed.microBatch !== microBatch) ||
          (fixed.gradAccum !== undefined && fixed.gradAccum !== gradAccum)
        )
          continue;
        for (const vpp of vppChoices(model.layers, pp, fixed)) {
          if ((vpp > 1 && gradAccum % pp !== 0) || (fixed.vpp !== undefined && fixed.vpp !== vpp)) continue;
          for (const zero of ZERO_STAGES) {
            if ((zero > 0 && dp * cp === 1) || (pp > 1 && zero > 1) || (fixed.zero !== undefined && fixed.zero !== zero)) continue;
            const sequenceParallel = tp > 1 && fixed.sequenceParallel !== false;
            if (fixed.sequenceParallel === true && tp === 1) continue;
            for (const hybridShard of hybridChoices(problem, dp, tp, cp, zero, fixed))
              visit({ dp, tp, pp, cp, vpp, microBatch, gradAccum, zero, sequenceParallel, hybridShard });
          }
        }
      }
    }
  }
}

/** Why a problem has no plan: the rule that refused it, and how this problem breaks it. */
export interface Refusal {
  rule: string;
  reason: string;
}

/**
 * Explains why no shape agrees with `fixed`, naming the rule and the first choice that breaks it (for
 * a clear error instead of an empty answer).
 */
export function explainNoShape(problem: Problem, fixed: Fixed): Refusal {
  const { model, gpus, globalBatch } = problem;
  const { tp, pp, dp, microBatch, vpp, zero } = fixed;
  const cp = fixed.cp ?? 1;
  const refuse = (rule: string, reason: string): Refusal => ({ rule, reason });
  if (cp > 1 && !problem.flashAttention)
    return refuse(
      "context parallelism needs fused attention",
      `cp=${cp} with unfused attention (ring attention never forms the s×s scores)`,
    );
  if (gpus % cp !== 0) return refuse("dp·tp·pp·cp = GPUs", `cp=${cp} does not divide ${gpus} GPUs`);
  if (tp !== undefined) {
    if (gpus % tp !== 0) return refuse("dp·tp·pp·cp = GPUs", `tp=${tp} does not divide ${gpus} GPUs`);
    if ((tp & (tp - 1)) !== 0) return refuse("tp is a power of two", `tp=${tp} is not a power of two`);
    if (!tpAllowed(model, tp))
      return refuse(
        "tp divides the attention heads",
        `tp=${tp} does not divide the model's ${model.heads} attention heads / ${model.kvHeads} key-value heads`,
      );
    if (!problem.tpAcrossNodes && tp > problem.gpusPerNode)
      return refuse("tp stays within a node", `tp=${tp} spans nodes of ${problem.gpusPerNode} GPUs (TP stays within a node)`);
  }
  if (pp !== undefined && model.layers < pp)
    return refuse("every pipeline stage holds a layer", `pp=${pp} stages need at least one of the model's ${model.layers} layers each`);
  if (pp !== undefined && vpp !== undefined && model.layers < pp * vpp)
    return refuse(
      "every pipeline chunk holds a layer",
      `pp·vpp=${pp * vpp} chunks need at least one of the model's ${model.layers} layers each`,
    );
  if (vpp !== undefined && vpp > 1 && pp === 1) return refuse("interleaving needs a pipeline", `vpp=${vpp} needs pp > 1`);
  const product = (tp ?? 1) * (pp ?? 1) * (dp ?? 1) * cp;
  if (gpus % product !== 0) return refuse("dp·tp·pp·cp = GPUs", `dp·tp·pp·cp=${product} does not divide ${gpus} GPUs`);
  if (dp !== undefined && tp !== undefined && pp !== undefined && product !== gpus)
    return refuse("dp·tp·pp·cp = GPUs", `dp·tp·pp·cp = ${product} ≠ ${gpus} GPUs`);
  if (dp !== undefined && globalBatch % dp !== 0)
    return refuse("global batch = dp·micro-batch·accumulation", `dp=${dp} does not divide the global batch ${globalBatch}`);
  if (microBatch !== undefined && globalBatch % microBatch !== 0)
    return refuse("global batch = dp·micro-batch·accumulation", `mbs=${microBatch} does not divide the global batch ${globalBatch}`);
  if (zero !== undefined && zero > 1 && pp !== undefined && pp > 1)
    return refuse("zero ≤ 1 with a pipeline", `zero=${zero} cannot shard the gradients a pipeline accumulates (use zero ≤ 1 with pp > 1)`);
  if (fixed.hybridShard === true) {
    if (zero === 0) return refuse("hybrid sharding needs ZeRO", "hybrid_shard=true needs zero ≥ 1 (it shards ZeRO's states inside a node)");
    return refuse(
      "hybrid sharding needs a data-parallel group across nodes",
      `hybrid_shard=true needs zero ≥ 1 and a data-parallel group that spans nodes of ${problem.gpusPerNode} GPUs`,
    );
  }
  if (vpp !== undefined && vpp > 1)
    return refuse(
      "interleaving needs accumulation steps a multiple of pp",
      `vpp=${vpp}: no micro-batch leaves a multiple of pp accumulation steps in global batch ${globalBatch}`,
    );
  return refuse(
    "global batch = dp·micro-batch·accumulation",
    `no data-parallel degree, micro-batch and accumulation satisfy global batch ${globalBatch} on ${gpus} GPUs with ${JSON.stringify(fixed)}`,
  );
}
