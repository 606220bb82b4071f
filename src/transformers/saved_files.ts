// Which files of a save folder each save_pretrained writes, and so replaces: a save drops every
// file of its kind that it did not write, so that a stale file of another format (a sharded index
// beside a new single file, an old pytorch_model.bin, a LoRA adapter) cannot be loaded in place
// of what was just saved. Other files (a README, another kind's files) are kept.
const ADAPTER = new Set(["adapter_config.json", "adapter_model.safetensors", "adapter_model.bin"]);
const MODEL = new Set([
  "config.json",
  "generation_config.json",
  "model.safetensors",
  "model.safetensors.index.json",
  "pytorch_model.bin",
  "pytorch_model.bin.index.json",
]);
const MODEL_SHARD = /^(?:model-\d+-of-\d+\.safetensors|pytorch_model-\d+-of-\d+\.bin)$/;
const TOKENIZER = new Set([
  "tokenizer.json",
  "tokenizer.model",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "added_tokens.json",
  "chat_template.jinja",
  "vocab.json",
  "merges.txt",
  "vocab.txt",
  "spiece.model",
]);

/** An adapter's files (PEFT's adapter_config.json and weights). */
export const ownsAdapterFile = (name: string): boolean => ADAPTER.has(name);

/** A full model's files: config, generation config, weights in any format; and any adapter, which would load instead. */
export const ownsModelFile = (name: string): boolean => MODEL.has(name) || MODEL_SHARD.test(name) || ADAPTER.has(name);

/** A tokenizer's files, of either kind (tokenizer.json or a SentencePiece model). */
export const ownsTokenizerFile = (name: string): boolean => TOKENIZER.has(name);
