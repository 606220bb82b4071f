// tessera/transformers generation: generate (also as `model.generate`), logits processors, stopping criteria.
import "./model_generate.js";

export { GENERATION_DEFAULTS, resolveGenerationConfig, type GenerationConfigFields } from "./configuration_utils.js";
export {
  LogitsProcessorList,
  RepetitionPenaltyLogitsProcessor,
  TemperatureLogitsWarper,
  TopKLogitsWarper,
  TopPLogitsWarper,
  type LogitsProcessor,
} from "./logits_process.js";
export { MaxLengthCriteria, EosTokenCriteria, StoppingCriteriaList, type StoppingCriteria } from "./stopping_criteria.js";
export { generate, get_logits_processor, type BaseStreamer, type GenerateOptions, type GenerativeModel } from "./utils.js";
