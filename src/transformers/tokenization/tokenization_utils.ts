// PreTrainedTokenizer: HF's tokenizer call surface (padding, truncation, attention masks, special
// tokens, decode, chat templates, save_pretrained) over a TokenizerBackend. Instances are callable,
// as in Python: `tokenizer(texts, { padding: true, return_tensors: "pt" })`.
import { IndexError, ValueError } from "../../torch/errors.js";
import { checkOptions, type OptionNames } from "../../torch/_options.js";
import { copyFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import * as torch from "../../torch/index.js";
import type { Tensor } from "../../torch/tensor.js";
import { saveFolder } from "../../torch/serialization/folder.js";
import type { TokenizerBackend } from "./backend.js";
import { ownsTokenizerFile } from "../saved_files.js";
import { renderChatTemplate, selectChatTemplate, type ChatMessage } from "./chat_template.js";
import { SPECIAL_TOKEN_KEYS, tokenContent, tokenList, type SpecialTokenKey } from "./special_tokens.js";

export type Padding = boolean | "longest" | "max_length" | "do_not_pad";
export type Truncation = boolean | "longest_first" | "only_first" | "do_not_truncate";

export interface CallOptions {
  padding?: Padding;
  truncation?: Truncation;
  max_length?: number;
  pad_to_multiple_of?: number;
  return_tensors?: "pt" | null;
  add_special_tokens?: boolean;
  return_attention_mask?: boolean;
}

export interface BatchEncoding<T> {
  input_ids: T;
  attention_mask?: T;
}

export interface DecodeOptions {
  skip_special_tokens?: boolean;
  clean_up_tokenization_spaces?: boolean;
}

const DECODE_OPTIONS: OptionNames<DecodeOptions> = { skip_special_tokens: true, clean_up_tokenization_spaces: true };

export interface ChatTemplateOptions {
  tokenize?: boolean;
  add_generation_prompt?: boolean;
  return_dict?: boolean;
  chat_template?: string;
  [key: string]: unknown;
}

type TokenIds = readonly number[] | Tensor;

/** Python's `int(1e30)`: HF's "no limit" for model_max_length. */
const VERY_LARGE_INTEGER = 1e30;

function ids2d(x: readonly (readonly number[])[] | Tensor): number[][] {
  if (x instanceof torch.Tensor) {
    const l = x.tolist() as number[] | number[][];
    return x.dim() === 1 ? [l as number[]] : (l as number[][]);
  }
  return x.map((r) => [...r]);
}

function ids1d(x: TokenIds): number[] {
  return x instanceof torch.Tensor ? (x.reshape(-1).tolist() as number[]) : [...x];
}

/** Python's clean_up_tokenization (tokenization_utils_base.py). */
function cleanUpTokenization(text: string): string {
  return text
    .replaceAll(" .", ".")
    .replaceAll(" ?", "?")
    .replaceAll(" !", "!")
    .replaceAll(" ,", ",")
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

export interface PreTrainedTokenizer {
  (text: string | string[], options: CallOptions & { return_tensors: "pt" }): BatchEncoding<Tensor>;
  (text: string, options?: CallOptions): BatchEncoding<number[]>;
  (text: string[], options?: CallOptions): BatchEncoding<number[][]>;
}

export class PreTrainedTokenizer {
  backend!: TokenizerBackend;
  /** tokenizer_config.json (merged with special_tokens_map.json) as loaded; save_pretrained writes it back updated. */
  init_kwargs!: Record<string, unknown>;
  padding_side!: "left" | "right";
  truncation_side!: "left" | "right";
  model_max_length!: number;
  clean_up_tokenization_spaces!: boolean;
  chat_template!: string | null;
  additional_special_tokens!: string[];
  private special!: Record<SpecialTokenKey, string | null>;

  constructor(backend: TokenizerBackend, config: Record<string, unknown>) {
    const self = ((text: string | string[], options?: CallOptions) => self.__call__(text, options)) as unknown as PreTrainedTokenizer;
    Object.setPrototypeOf(self, new.target.prototype);
    self.backend = backend;
    self.init_kwargs = config;
    self.special = Object.fromEntries(SPECIAL_TOKEN_KEYS.map((k) => [k, tokenContent(config[k])])) as Record<
      SpecialTokenKey,
      string | null
    >;
    self.additional_special_tokens = tokenList(config.additional_special_tokens ?? config.extra_special_tokens);
    self.padding_side = config.padding_side === "left" ? "left" : "right";
    self.truncation_side = config.truncation_side === "left" ? "left" : "right";
    self.model_max_length = typeof config.model_max_length === "number" ? config.model_max_length : VERY_LARGE_INTEGER;
    self.clean_up_tokenization_spaces = config.clean_up_tokenization_spaces === true;
    self.chat_template = selectChatTemplate(config.chat_template);
    return self;
  }

  // --- special tokens ---------------------------------------------------------------------
  get bos_token(): string | null {
    return this.special.bos_token;
  }
  set bos_token(v: string | null) {
    this.special.bos_token = v;
  }
  get eos_token(): string | null {
    return this.special.eos_token;
  }
  set eos_token(v: string | null) {
    this.special.eos_token = v;
  }
  get unk_token(): string | null {
    return this.special.unk_token;
  }
  set unk_token(v: string | null) {
    this.special.unk_token = v;
  }
  get pad_token(): string | null {
    return this.special.pad_token;
  }
  set pad_token(v: string | null) {
    this.special.pad_token = v;
  }
  get sep_token(): string | null {
    return this.special.sep_token;
  }
  set sep_token(v: string | null) {
    this.special.sep_token = v;
  }
  get cls_token(): string | null {
    return this.special.cls_token;
  }
  set cls_token(v: string | null) {
    this.special.cls_token = v;
  }
  get mask_token(): string | null {
    return this.special.mask_token;
  }
  set mask_token(v: string | null) {
    this.special.mask_token = v;
  }

  private idOf(token: string | null): number | null {
    return token === null ? null : (this.backend.tokenToId(token) ?? null);
  }
  get bos_token_id(): number | null {
    return this.idOf(this.bos_token);
  }
  get eos_token_id(): number | null {
    return this.idOf(this.eos_token);
  }
  get unk_token_id(): number | null {
    return this.idOf(this.unk_token);
  }
  get pad_token_id(): number | null {
    return this.idOf(this.pad_token);
  }
  get sep_token_id(): number | null {
    return this.idOf(this.sep_token);
  }
  get cls_token_id(): number | null {
    return this.idOf(this.cls_token);
  }
  get mask_token_id(): number | null {
    return this.idOf(this.mask_token);
  }

  /** Every special token: the named ones, additional_special_tokens, and those the tokenizer file marks special. */
  get all_special_tokens(): string[] {
    const named = SPECIAL_TOKEN_KEYS.map((k) => this.special[k]).filter((t): t is string => t !== null);
    return [...new Set([...named, ...this.additional_special_tokens, ...this.backend.specialTokens])];
  }

  get all_special_ids(): number[] {
    return this.all_special_tokens.map((t) => this.idOf(t)).filter((id): id is number => id !== null);
  }

  get vocab_size(): number {
    return this.backend.vocabSize;
  }

  /** Python's `len(tokenizer)`: the vocabulary with added tokens. */
  __len__(): number {
    return this.backend.length;
  }

  // --- tokens <-> ids ---------------------------------------------------------------------
  convert_tokens_to_ids(tokens: string): number | null;
  convert_tokens_to_ids(tokens: readonly string[]): (number | null)[];
  convert_tokens_to_ids(tokens: string | readonly string[]): number | null | (number | null)[] {
    const one = (t: string) => this.backend.tokenToId(t) ?? this.unk_token_id;
    return typeof tokens === "string" ? one(tokens) : tokens.map(one);
  }

  convert_ids_to_tokens(ids: number, options?: { skip_special_tokens?: boolean }): string;
  convert_ids_to_tokens(ids: TokenIds, options?: { skip_special_tokens?: boolean }): string[];
  convert_ids_to_tokens(ids: number | TokenIds, options: { skip_special_tokens?: boolean } = {}): string | string[] {
    checkOptions("PreTrainedTokenizer.convert_ids_to_tokens", options, { skip_special_tokens: true });
    const { skip_special_tokens = false } = options;
    const one = (id: number) => {
      const t = this.backend.idToToken(id);
      if (t === undefined) throw new IndexError(`token id ${id} is out of range [0, ${this.__len__()})`);
      return t;
    };
    if (typeof ids === "number") return one(ids);
    const special = new Set(this.all_special_ids);
    return ids1d(ids)
      .filter((id) => !(skip_special_tokens && special.has(id)))
      .map(one);
  }

  tokenize(text: string, { add_special_tokens = false } = {}): string[] {
    return this.convert_ids_to_tokens(this.encode(text, { add_special_tokens }));
  }

  // --- encoding -----------------------------------------------------------------------------
  encode(
    text: string,
    {
      add_special_tokens = true,
      truncation = false,
      max_length,
    }: Pick<CallOptions, "add_special_tokens" | "truncation" | "max_length"> = {},
  ): number[] {
    return this.encodeOne(text, add_special_tokens, this.truncationLimit(truncation, max_length));
  }

  private truncationLimit(truncation: Truncation, max_length: number | undefined): number | null {
    if (truncation === false || truncation === "do_not_truncate") return null;
    const limit = max_length ?? this.model_max_length;
    return limit >= VERY_LARGE_INTEGER ? null : limit;
  }

  private encodeOne(text: string, addSpecial: boolean, limit: number | null): number[] {
    if (typeof text !== "string") throw new TypeError(`text input must be a string or an array of strings, got ${typeof text}`);
    let ids = this.backend.encodeText(text);
    if (limit !== null) {
      const room = Math.max(0, limit - (addSpecial ? this.backend.numSpecialTokensToAdd() : 0));
      if (ids.length > room) ids = this.truncation_side === "left" ? ids.slice(ids.length - room) : ids.slice(0, room);
    }
    return addSpecial ? this.backend.addSpecialTokens(ids) : ids;
  }

  __call__(text: string | string[], options: CallOptions = {}): BatchEncoding<number[] | number[][] | Tensor> {
    checkOptions("PreTrainedTokenizer.__call__", options, {
      padding: true,
      truncation: true,
      max_length: true,
      pad_to_multiple_of: true,
      return_tensors: true,
      add_special_tokens: true,
      return_attention_mask: true,
    });
    const {
      padding = false,
      truncation = false,
      max_length,
      pad_to_multiple_of,
      return_tensors = null,
      add_special_tokens = true,
      return_attention_mask = true,
    } = options;
    const batched = Array.isArray(text);
    const texts = batched ? text : [text];
    const limit = this.truncationLimit(truncation, max_length);
    if (padding !== false && padding !== "do_not_pad" && limit !== null && pad_to_multiple_of && limit % pad_to_multiple_of) {
      throw new ValueError(
        `Truncation and padding are both activated but truncation length (${limit}) is not a multiple of pad_to_multiple_of (${pad_to_multiple_of})`,
      );
    }
    let ids = texts.map((t) => this.encodeOne(t, add_special_tokens, limit));
    let masks = ids.map((r) => r.map(() => 1));
    const strategy = padding === true ? "longest" : padding === false ? "do_not_pad" : padding;
    if (strategy !== "do_not_pad") [ids, masks] = this.pad(ids, masks, strategy, max_length, pad_to_multiple_of);
    const out = (rows: number[][]): number[] | number[][] | Tensor => {
      if (return_tensors === "pt") {
        if (new Set(rows.map((r) => r.length)).size > 1) {
          throw new ValueError(
            "Unable to create tensor from sequences of different lengths: activate padding with `padding: true` (and truncation with `truncation: true`)",
          );
        }
        return torch.tensor(rows, { dtype: torch.int64 });
      }
      return batched ? rows : rows[0];
    };
    return return_attention_mask ? { input_ids: out(ids), attention_mask: out(masks) } : { input_ids: out(ids) };
  }

  private pad(
    ids: number[][],
    masks: number[][],
    strategy: "longest" | "max_length",
    maxLength: number | undefined,
    multiple: number | undefined,
  ): [number[][], number[][]] {
    let target = strategy === "longest" ? Math.max(0, ...ids.map((r) => r.length)) : (maxLength ?? this.model_max_length);
    if (target >= VERY_LARGE_INTEGER) throw new ValueError('padding="max_length" needs max_length (the tokenizer has no model_max_length)');
    if (multiple && target % multiple) target += multiple - (target % multiple);
    const padId = this.pad_token_id;
    if (padId === null) {
      throw new ValueError(
        "Asking to pad but the tokenizer does not have a padding token. Please select a token to use as `pad_token` (e.g. `tokenizer.pad_token = tokenizer.eos_token`)",
      );
    }
    const padRow = (row: number[], value: number) => {
      const fill = new Array<number>(Math.max(0, target - row.length)).fill(value);
      return this.padding_side === "left" ? [...fill, ...row] : [...row, ...fill];
    };
    return [ids.map((r) => padRow(r, padId)), masks.map((m) => padRow(m, 0))];
  }

  // --- decoding -----------------------------------------------------------------------------
  decode(ids: TokenIds | number, options: DecodeOptions = {}): string {
    checkOptions("PreTrainedTokenizer.decode", options, DECODE_OPTIONS);
    const { skip_special_tokens = false, clean_up_tokenization_spaces } = options;
    const list = typeof ids === "number" ? [ids] : ids1d(ids);
    const text = this.backend.decode(list, skip_special_tokens, new Set(this.all_special_tokens));
    return (clean_up_tokenization_spaces ?? this.clean_up_tokenization_spaces) ? cleanUpTokenization(text) : text;
  }

  batch_decode(sequences: readonly (readonly number[])[] | Tensor, options: DecodeOptions = {}): string[] {
    checkOptions("PreTrainedTokenizer.batch_decode", options, DECODE_OPTIONS);
    return ids2d(sequences).map((s) => this.decode(s, options));
  }

  // --- chat templates -----------------------------------------------------------------------
  apply_chat_template(messages: ChatMessage[], options: ChatTemplateOptions & { tokenize: false }): string;
  apply_chat_template(messages: ChatMessage[], options: ChatTemplateOptions & { return_dict: false }): number[];
  apply_chat_template(messages: ChatMessage[], options?: ChatTemplateOptions): BatchEncoding<number[]>;
  apply_chat_template(messages: ChatMessage[], options: ChatTemplateOptions = {}): string | number[] | BatchEncoding<number[]> {
    const { tokenize = true, add_generation_prompt = false, return_dict = true, chat_template, ...extra } = options;
    const template = chat_template ?? this.chat_template;
    if (!template)
      throw new ValueError(
        "Cannot use apply_chat_template because this tokenizer does not have a chat template (no chat_template in tokenizer_config.json or chat_template.jinja)",
      );
    const specials = Object.fromEntries(SPECIAL_TOKEN_KEYS.map((k) => [k, this.special[k] ?? ""]));
    const rendered = renderChatTemplate(template, { ...specials, ...extra, messages, add_generation_prompt });
    if (!tokenize) return rendered;
    // The template already writes the special tokens, so none are added around it (as HF does).
    const ids = this.encode(rendered, { add_special_tokens: false });
    return return_dict ? { input_ids: ids, attention_mask: ids.map(() => 1) } : ids;
  }

  // --- saving -------------------------------------------------------------------------------
  /**
   * Writes the tokenizer files, tokenizer_config.json and special_tokens_map.json to `dir`: into a
   * folder beside it that then replaces it whole, keeping its other files (a model's) and dropping
   * the tokenizer files of the other kind. Returns the paths written.
   */
  save_pretrained(dir: string): string[] {
    const source = typeof this.init_kwargs.name_or_path === "string" ? this.init_kwargs.name_or_path : null;
    if (!source && this.backend.files.length > 0)
      throw new Error("save_pretrained: the tokenizer was not loaded from a folder, so there are no tokenizer files to copy");
    const specialMap: Record<string, unknown> = Object.fromEntries(
      SPECIAL_TOKEN_KEYS.filter((k) => this.special[k] !== null).map((k) => [k, this.special[k]]),
    );
    if (this.additional_special_tokens.length) specialMap.additional_special_tokens = this.additional_special_tokens;
    const { name_or_path: _unused, ...kwargs } = this.init_kwargs;
    const config = {
      ...kwargs,
      ...specialMap,
      padding_side: this.padding_side,
      truncation_side: this.truncation_side,
      model_max_length: this.model_max_length,
      clean_up_tokenization_spaces: this.clean_up_tokenization_spaces,
      ...(this.chat_template ? { chat_template: this.chat_template } : {}),
    };
    const names = [...this.backend.files, "tokenizer_config.json", "special_tokens_map.json"];
    saveFolder(dir, { owns: ownsTokenizerFile }, (staging) => {
      for (const f of this.backend.files) copyFileSync(path.join(source!, f), path.join(staging, f));
      writeFileSync(path.join(staging, "tokenizer_config.json"), JSON.stringify(config, null, 2) + "\n");
      writeFileSync(path.join(staging, "special_tokens_map.json"), JSON.stringify(specialMap, null, 2) + "\n");
    });
    return names.map((f) => path.join(dir, f));
  }
}
