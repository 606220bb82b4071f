// The tokenizer.json pipeline (normalizer, pre-tokenizer, BPE/Unigram/WordPiece model,
// post-processor, decoder, added tokens) through @huggingface/tokenizers, the maintained
// pure-JS port of HF tokenizers.
import { readFileSync } from "node:fs";
import path from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { parseJson } from "../../torch/serialization/json.js";
import type { TokenizerBackend } from "./backend.js";
import { checkTokenizerRegexes } from "./regex_safety.js";

type TokenJson = Record<string, unknown> & { added_tokens?: { content: string; id: number; special?: boolean }[] };

function readTokenizerJson(file: string): TokenJson {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = parseJson(text);
  } catch (e) {
    throw new Error(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (json === null || typeof json !== "object" || !("model" in json))
    throw new Error(`${file} is not a tokenizer.json: it has no "model" section`);
  return json as TokenJson;
}

export class TokenizerJsonBackend implements TokenizerBackend {
  private readonly tokenizer: Tokenizer;
  private readonly added: TokenJson["added_tokens"] & object;
  /** Entries of model.vocab (a token→id object for BPE/WordPiece, a [token, score] list for Unigram). */
  readonly vocabSize: number;
  readonly files = ["tokenizer.json"];

  constructor(dir: string, config: Record<string, unknown>) {
    const file = path.join(dir, "tokenizer.json");
    const json = readTokenizerJson(file);
    checkTokenizerRegexes(json, file);
    this.added = json.added_tokens ?? [];
    const vocab = (json.model as { vocab?: unknown }).vocab;
    this.vocabSize = Array.isArray(vocab) ? vocab.length : Object.keys(vocab ?? {}).length;
    try {
      // Cleanup of tokenization spaces is applied by PreTrainedTokenizer, as HF does.
      this.tokenizer = new Tokenizer(json, { ...config, clean_up_tokenization_spaces: false });
      // The library builds some parts lazily: one encode and decode now surfaces a malformed
      // section here, as an error naming the file, rather than at the first call of a user.
      this.tokenizer.decode(this.tokenizer.encode("a 1.").ids);
    } catch (e) {
      throw new Error(`${file}: unsupported or malformed tokenizer: ${(e as Error).message}`);
    }
  }

  private toIds(tokens: string[]): number[] {
    const unk = this.tokenizer.model?.unk_token_id;
    return tokens.map((t) => {
      const id = this.tokenizer.token_to_id(t) ?? unk;
      if (id === undefined) throw new Error(`token ${JSON.stringify(t)} is not in the vocabulary and the model has no unknown token`);
      return id;
    });
  }

  encodeText(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  addSpecialTokens(ids: number[]): number[] {
    const pp = this.tokenizer.post_processor;
    if (!pp) return ids;
    const tokens = ids.map((id) => this.tokenizer.id_to_token(id) ?? "");
    return this.toIds(pp.post_process(tokens, null, true).tokens);
  }

  numSpecialTokensToAdd(): number {
    return this.tokenizer.post_processor ? this.tokenizer.post_processor.post_process([], null, true).tokens.length : 0;
  }

  decode(ids: number[], skipSpecialTokens: boolean, specialTokens: ReadonlySet<string>): string {
    const kept = skipSpecialTokens ? ids.filter((id) => !specialTokens.has(this.tokenizer.id_to_token(id) ?? "")) : ids;
    return kept.length ? this.tokenizer.decode(kept, { skip_special_tokens: false, clean_up_tokenization_spaces: false }) : "";
  }

  tokenToId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.tokenizer.id_to_token(id);
  }

  get length(): number {
    return this.tokenizer.get_vocab(true).size;
  }

  get specialTokens(): string[] {
    return this.added.filter((t) => t.special).map((t) => t.content);
  }
}
