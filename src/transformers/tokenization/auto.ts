// AutoTokenizer.from_pretrained(folder): reads tokenizer_config.json and special_tokens_map.json,
// then builds the tokenizer from tokenizer.json (preferred, as HF's fast tokenizers) or from a
// SentencePiece tokenizer.model (Llama/Baichuan2 slow tokenizers).
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { readJsonObjectFile } from "../../torch/serialization/json.js";
import { SentencePieceProcessor } from "./sentencepiece.js";
import { SentencePieceBackend, type AddedTokenSpec } from "./sentencepiece_backend.js";
import { SPECIAL_TOKEN_KEYS, tokenContent, tokenList } from "./special_tokens.js";
import { TokenizerJsonBackend } from "./tokenizer_json_backend.js";
import { PreTrainedTokenizer } from "./tokenization_utils.js";
import { resolve_pretrained_folder, type HubOptions } from "../hub/index.js";

/** AutoTokenizer.from_pretrained's options: a hub id is found in the cache or downloaded (HubOptions). */
export interface FromPretrainedOptions extends HubOptions {
  trust_remote_code?: boolean;
  /** false loads tokenizer.model even when tokenizer.json exists (HF's use_fast=False). */
  use_fast?: boolean;
  padding_side?: "left" | "right";
  [key: string]: unknown;
}

function readJsonIfPresent(file: string): Record<string, unknown> {
  if (!existsSync(file)) return {};
  return readJsonObjectFile(file, "AutoTokenizer.from_pretrained");
}

/** added_tokens_decoder: {"32000": {"content": "<pad>", "special": true, ...}} */
function addedTokens(config: Record<string, unknown>): AddedTokenSpec[] {
  const decoder = config.added_tokens_decoder;
  if (decoder === null || typeof decoder !== "object") return [];
  return Object.entries(decoder as Record<string, Record<string, unknown>>).map(([id, t]) => ({
    content: String(t.content),
    id: Number(id),
    special: t.special === true,
    lstrip: t.lstrip === true,
    rstrip: t.rstrip === true,
  }));
}

function sentencePieceTokenizer(dir: string, config: Record<string, unknown>): PreTrainedTokenizer {
  const sp = SentencePieceProcessor.fromFile(path.join(dir, "tokenizer.model"));
  // LlamaTokenizer's defaults, taken from the model's own control pieces when the config is silent.
  const piece = (id: number) => (id >= 0 && id < sp.get_piece_size() ? sp.id_to_piece(id) : null);
  const cfg: Record<string, unknown> = {
    bos_token: piece(sp.bos_id()),
    eos_token: piece(sp.eos_id()),
    unk_token: piece(sp.unk_id()),
    ...config,
  };
  const specials = [...SPECIAL_TOKEN_KEYS.map((k) => tokenContent(cfg[k])), ...tokenList(cfg.additional_special_tokens)].filter(
    (t): t is string => t !== null,
  );
  const backend = new SentencePieceBackend(sp, {
    add_bos_token: cfg.add_bos_token !== false,
    add_eos_token: cfg.add_eos_token === true,
    bos_token: tokenContent(cfg.bos_token),
    eos_token: tokenContent(cfg.eos_token),
    added_tokens: [...addedTokens(cfg), ...specials.map((content) => ({ content, special: true }))],
  });
  return new PreTrainedTokenizer(backend, cfg);
}

export class AutoTokenizer {
  static from_pretrained(name_or_path: string, options: FromPretrainedOptions = {}): PreTrainedTokenizer {
    const { use_fast = true, revision, cache_dir, local_files_only, token, trust_remote_code: _trusted, ...overrides } = options;
    const dir = resolve_pretrained_folder(name_or_path, { revision, cache_dir, local_files_only, token }, "AutoTokenizer.from_pretrained");
    const specialMap = readJsonIfPresent(path.join(dir, "special_tokens_map.json"));
    const config: Record<string, unknown> = {
      ...specialMap,
      ...readJsonIfPresent(path.join(dir, "tokenizer_config.json")),
      ...overrides,
      name_or_path: dir,
    };
    const jinja = path.join(dir, "chat_template.jinja");
    if (config.chat_template === undefined && existsSync(jinja)) config.chat_template = readFileSync(jinja, "utf8");
    const hasJson = existsSync(path.join(dir, "tokenizer.json"));
    const hasModel = existsSync(path.join(dir, "tokenizer.model"));
    // What the files hold is checked as the tokenizer is built: a bad value is an error naming the folder.
    const build = (make: () => PreTrainedTokenizer): PreTrainedTokenizer => {
      try {
        return make();
      } catch (e) {
        const message = (e as Error).message;
        throw message.includes(dir) ? e : new Error(`AutoTokenizer.from_pretrained: ${dir}: ${message}`, { cause: e });
      }
    };
    if (hasModel && (!hasJson || !use_fast)) return build(() => sentencePieceTokenizer(dir, config));
    if (hasJson) return build(() => new PreTrainedTokenizer(new TokenizerJsonBackend(dir, config), config));
    throw new Error(`AutoTokenizer.from_pretrained: no tokenizer files in ${dir} (looked for tokenizer.json and tokenizer.model)`);
  }
}
