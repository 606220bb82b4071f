// The Advanced Parallelization planner: model and hardware profiles, cost model, search.
export {
  profileFromConfig,
  megatronGpt,
  totalParams,
  layerParams,
  embeddingParams,
  headParams,
  trainingFlopsPerToken,
  type ModelProfile,
} from "./model_profile.js";
export { modelPreset, modelPresetNames, loadModelProfile } from "./model_presets.js";
export { peakFlopsFor } from "./device_names.js";
export {
  hardwarePreset,
  hardwarePresetNames,
  loadHardwareProfile,
  validateHardwareProfile,
  type HardwareProfile,
  type LinkProfile,
  type MeasuredLayers,
} from "./hardware.js";
export { layerShape, measuredLayerTime } from "./measured_layer.js";
export {
  measureHardwareProfile,
  profileFromMeasurements,
  readCachedProfile,
  writeCachedProfile,
  hardwareCacheKey,
  type HardwareProbe,
  type PipelineSample,
  type RawMeasurements,
  type CalibrationShapes,
  type LayerShapes,
} from "./measure.js";
export {
  parseFix,
  whatIfs,
  type Refusal,
  type Plan,
  type Problem,
  type Fixed,
  type Recompute,
  type Offload,
  type ZeroStage,
  type Precision,
} from "./space.js";
export { memoryPerGpu, modelStateBytesPerParam, FRAGMENTATION_MARGIN, type MemoryBreakdown } from "./memory.js";
export { nodeLocalDp, zeroShardDegree } from "./layout.js";
export { predictStep, type Prediction, type StepTime } from "./cost.js";
export { plan, search, evaluate, type Evaluation, type SearchResult } from "./search.js";
export { validatePublished, type PublishedTable, type PublishedValidation } from "./published.js";
export { resultJson, resultText, noFitMessage } from "./format.js";
export { planToJson, planFromJson, fixedFromPlanJson, fixedToPlanJson, type PlanJson } from "./plan_json.js";

import { hardwarePreset, type HardwareProfile } from "./hardware.js";
import type { ModelProfile } from "./model_profile.js";
import type { Problem } from "./space.js";

/**
 * A problem with the planner's defaults: H100s, seq 2048, global batch 4 per GPU (at least 8), fused
 * attention, TP inside a node, bf16 mixed precision. A cluster smaller than a node is one partial node.
 */
export function makeProblem(
  model: ModelProfile,
  gpus: number,
  options: Partial<Omit<Problem, "model" | "gpus">> & { hardware?: HardwareProfile } = {},
): Problem {
  const hardware = options.hardware ?? hardwarePreset("h100-sxm-80gb");
  return {
    model,
    gpus,
    hardware,
    gpusPerNode: Math.min(gpus, options.gpusPerNode ?? hardware.devicesPerNode),
    seqLen: options.seqLen ?? 2048,
    globalBatch: options.globalBatch ?? Math.max(8, 4 * gpus),
    flashAttention: options.flashAttention ?? true,
    tpAcrossNodes: options.tpAcrossNodes ?? false,
    precision: options.precision ?? "bf16-mixed",
    tpCommOverlap: options.tpCommOverlap ?? false,
    stack: options.stack ?? "tessera",
  };
}
