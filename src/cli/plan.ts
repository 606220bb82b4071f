// `tessera plan`: choose the fastest parallelization plan that fits, for a model, a batch and a cluster.
// Exit codes: 0 a plan was found, 2 bad usage (a malformed or unknown argument, an unreadable file),
// 3 no plan fits this well-formed problem (the message names the rule and the smallest cluster that fits).
import { parseArgs } from "node:util";
import {
  hardwarePreset,
  hardwarePresetNames,
  loadHardwareProfile,
  loadModelProfile,
  makeProblem,
  modelPresetNames,
  parseFix,
  plan,
  resultJson,
  resultText,
  type HardwareProfile,
  type Problem,
} from "../parallel/planner/index.js";
import { UsageError, boundedPositiveInt, positiveInt } from "./options.js";

const USAGE = `usage: tessera plan --model <config.json|preset> --gpus N [options]
       tessera plan --calibrate [--model M] [--seq-len L] [--nproc N] [--refresh] [--gpus N ...]

Chooses data, tensor (+sequence) and pipeline parallelism, ZeRO stage (optionally hybrid-sharded:
inside a node, replicated across nodes), micro-batch, gradient accumulation, activation recompute and
offload for the fastest step that fits in memory.

options:
  --model M             HF config.json (or its folder) or a preset: ${modelPresetNames().join(", ")}
  --gpus N              number of GPUs
  --gpus-per-node K     GPUs per node (default: the GPU preset's, at most N)
  --gpu NAME            GPU preset (default h100-sxm-80gb): ${hardwarePresetNames().join(", ")};
                        or "local": this machine's profile measured by --calibrate
  --hardware FILE       a hardware profile JSON (measured or hand-written) instead of --gpu
  --seq-len L           sequence length (default 2048)
  --global-batch B      sequences per optimizer step (default 4 per GPU, at least 8)
  --precision P         bf16-mixed (bf16 weights/grads/activations, fp32 Adam; default), fp32, or
                        fp8 (bf16-mixed with FP8 GEMMs on H100/H200: a what-if the runtime does not execute)
  --fix k=v,...         hold choices, search the rest: dp, tp, pp, cp, vpp, mbs, ga, zero (0-3),
                        recompute (none|selective|full), recompute_layers, sp (true|false),
                        offload (none|optimizer|optimizer+params), hybrid_shard or hsdp (true|false);
                        cp=N (context parallelism) is a what-if the runtime does not execute: the
                        free search never chooses it
  --alternatives K      how many next-best plans to show (default 4)
  --tp-across-nodes     let tensor parallelism span nodes
  --tp-comm-overlap     model TP collectives overlapped with their GEMMs (Megatron-Core userbuffers):
                        a what-if the runtime does not execute
  --unfused-attention   model kernels that store the s×s attention scores (no flash attention)
  --json                print one JSON object (its "plan" is what \`tessera run --plan\` takes)
  --calibrate           measure this machine (GEMM and attention at the model's shapes, memory bandwidth,
                        all-reduce bandwidth by group size over tessera's c10d on --nproc ranks) and
                        cache the profile per device and software ($TESSERA_CACHE_DIR, default
                        ~/.cache/tessera/hardware); later \`--gpu local\` plans and the one line use it
  --nproc N             ranks to calibrate with (default: CUDA devices, else 4)
  --refresh             measure again even when this device and software has a cached profile
  -h, --help            this help

exit codes: 0 plan found; 2 bad usage; 3 no plan fits (the message names the rule that refused and the
smallest cluster that fits)`;

/** --hardware FILE, --gpu local (the cached measured profile), or a GPU preset. */
async function hardwareFrom(values: Record<string, string | boolean | undefined>): Promise<HardwareProfile> {
  if (values.gpu !== undefined && values.hardware !== undefined) throw new UsageError("give --gpu or --hardware, not both");
  if (typeof values.hardware === "string") return loadHardwareProfile(values.hardware);
  if (values.gpu === "local") {
    const { cachedLocalProfile } = await import("../launch/calibrate.js");
    const profile = cachedLocalProfile();
    if (profile === undefined)
      throw new UsageError(
        "--gpu local: this machine has no measured profile for its device and software yet (run tessera plan --calibrate)",
      );
    return profile;
  }
  return hardwarePreset(typeof values.gpu === "string" ? values.gpu : "h100-sxm-80gb");
}

// Bounds far past any real job (a million GPUs; 16 M tokens of context or sequences per step): the
// search's work grows with these numbers, so an absurd one is refused rather than searched.
const MAX_GPUS = 1 << 20;
const MAX_TOKENS = 1 << 24;

function problemFrom(values: Record<string, string | boolean | undefined>, hardware: HardwareProfile): Problem {
  if (typeof values.model !== "string") throw new UsageError("--model is required");
  const gpus = boundedPositiveInt(values, "gpus", MAX_GPUS);
  const precision = values.precision ?? "bf16-mixed";
  if (precision !== "bf16-mixed" && precision !== "fp32" && precision !== "fp8")
    throw new UsageError(`--precision ${String(precision)}: expected bf16-mixed, fp32 or fp8`);
  const problem = makeProblem(loadModelProfile(values.model), gpus, {
    hardware,
    gpusPerNode: boundedPositiveInt(values, "gpus-per-node", MAX_GPUS, hardware.devicesPerNode),
    seqLen: boundedPositiveInt(values, "seq-len", MAX_TOKENS, 2048),
    globalBatch: values["global-batch"] === undefined ? undefined : boundedPositiveInt(values, "global-batch", MAX_TOKENS),
    flashAttention: values["unfused-attention"] !== true,
    tpAcrossNodes: values["tp-across-nodes"] === true,
    tpCommOverlap: values["tp-comm-overlap"] === true,
    precision,
  });
  if (gpus % problem.gpusPerNode !== 0)
    throw new UsageError(`--gpus ${gpus} is not a whole number of nodes of ${problem.gpusPerNode} GPUs`);
  return problem;
}

/** `--calibrate`: measures (or reads the cached profile of) this machine and prints what it found. */
async function runCalibration(values: Record<string, string | boolean | undefined>): Promise<HardwareProfile> {
  const { calibrate } = await import("../launch/calibrate.js");
  const { cuda } = await import("../torch/index.js");
  const gpuCount = cuda.is_available() ? cuda.device_count() : 0;
  const base = hardwarePreset(typeof values.gpu === "string" ? values.gpu : gpuCount > 0 ? "h100-sxm-80gb" : "cpu");
  const model = typeof values.model === "string" ? loadModelProfile(values.model) : undefined;
  const { profile, seconds, file } = await calibrate({
    base,
    model,
    seqLen: positiveInt(values, "seq-len", 512),
    nproc: positiveInt(values, "nproc", gpuCount > 0 ? gpuCount : 4),
    refresh: values.refresh === true,
  });
  const link = profile.intraNode.byGroupSize?.map(([n, bw]) => `${n} ranks ${(bw / 1e9).toFixed(2)} GB/s`).join(", ") ?? "not measured";
  console.log(
    `${profile.name}: GEMM ${(100 * profile.gemm.maxEfficiency).toFixed(1)} % of ${(profile.peakFlops / 1e12).toFixed(1)} TFLOP/s (half at width ${profile.gemm.halfDim.toFixed(0)}), attention ${(100 * profile.attentionEfficiency).toFixed(1)} %, memory ${(profile.memoryBandwidthBytesPerS / 1e9).toFixed(1)} GB/s, all-reduce bus bandwidth ${link}, latency ${(profile.intraNode.latencyS * 1e6).toFixed(0)} µs`,
  );
  console.log(`profile ${file} (${profile.measured?.software}; ${seconds.toFixed(1)} s)`);
  return profile;
}

export async function main(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        model: { type: "string" },
        gpus: { type: "string" },
        "gpus-per-node": { type: "string" },
        gpu: { type: "string" },
        hardware: { type: "string" },
        "seq-len": { type: "string" },
        "global-batch": { type: "string" },
        precision: { type: "string" },
        fix: { type: "string" },
        alternatives: { type: "string" },
        "tp-across-nodes": { type: "boolean" },
        "tp-comm-overlap": { type: "boolean" },
        "unfused-attention": { type: "boolean" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        calibrate: { type: "boolean" },
        nproc: { type: "string" },
        refresh: { type: "boolean" },
      },
    }));
  } catch (e) {
    console.error(`tessera plan: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  let problem: Problem;
  let fixed;
  let alternatives: number;
  try {
    if (values.calibrate === true) {
      const hardware = await runCalibration(values);
      if (values.gpus === undefined) return 0;
      values.hardware = undefined;
      values.gpu = undefined;
      problem = problemFrom(values, hardware);
    } else {
      problem = problemFrom(values, await hardwareFrom(values));
    }
    fixed = parseFix(typeof values.fix === "string" ? values.fix : "");
    alternatives = values.alternatives === "0" ? 0 : positiveInt(values, "alternatives", 4);
  } catch (e) {
    console.error(`tessera plan: ${(e as Error).message}${e instanceof UsageError ? `\n\n${USAGE}` : ""}`);
    return 2;
  }
  const result = plan(problem, fixed, { alternatives });
  if (values.json === true) console.log(JSON.stringify(resultJson(problem, result), null, 2));
  else console.log(resultText(problem, result));
  return result.best !== undefined ? 0 : 3;
}
