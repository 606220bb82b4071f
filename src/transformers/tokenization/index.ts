export { AutoTokenizer, type FromPretrainedOptions } from "./auto.js";
export {
  PreTrainedTokenizer,
  type BatchEncoding,
  type CallOptions,
  type ChatTemplateOptions,
  type DecodeOptions,
  type Padding,
  type Truncation,
} from "./tokenization_utils.js";
export type { ChatMessage } from "./chat_template.js";
export { SentencePieceProcessor } from "./sentencepiece.js";
