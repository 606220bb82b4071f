// What PreTrainedTokenizer needs from a tokenization engine: the tokenizer.json pipeline
// (tokenizer_json_backend.ts) and SentencePiece's tokenizer.model (sentencepiece_backend.ts).

export interface TokenizerBackend {
  /** Ids of `text` without any special tokens added around it (added tokens inside it are kept). */
  encodeText(text: string): number[];
  /** Wraps one sequence of ids with the special tokens the tokenizer adds (BOS/EOS, templates). */
  addSpecialTokens(ids: number[]): number[];
  /** How many ids addSpecialTokens adds to a single sequence. */
  numSpecialTokensToAdd(): number;
  /** Ids → text; `specialTokens` holds the tokens to drop when skip_special_tokens is set. */
  decode(ids: number[], skipSpecialTokens: boolean, specialTokens: ReadonlySet<string>): string;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  /** Size of the base vocabulary (without added tokens), as HF's `vocab_size`. */
  readonly vocabSize: number;
  /** Size with added tokens, as HF's `len(tokenizer)`. */
  readonly length: number;
  /** Tokens the tokenizer file itself marks as special. */
  readonly specialTokens: readonly string[];
  /** Files (names in the model folder) that save_pretrained must copy. */
  readonly files: readonly string[];
}
