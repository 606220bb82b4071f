// HF's slow LlamaTokenizer (legacy behaviour) on our SentencePieceProcessor: text is split on added
// and special tokens, each remaining chunk goes through sentencepiece, and BOS/EOS are added per
// add_bos_token/add_eos_token. Also serves Baichuan2's tokenizer, which is the same design.
import { IndexError } from "../../torch/errors.js";
import type { TokenizerBackend } from "./backend.js";
import { SentencePieceProcessor } from "./sentencepiece.js";
import { SPACE_SYMBOL } from "./sentencepiece_normalizer.js";

export interface AddedTokenSpec {
  content: string;
  id?: number;
  special: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
}

export interface SentencePieceOptions {
  add_bos_token: boolean;
  add_eos_token: boolean;
  bos_token: string | null;
  eos_token: string | null;
  added_tokens: AddedTokenSpec[];
}

export class SentencePieceBackend implements TokenizerBackend {
  readonly files = ["tokenizer.model"];
  private readonly added = new Map<string, AddedTokenSpec & { id: number }>();
  private readonly addedById = new Map<number, string>();

  constructor(
    readonly sp: SentencePieceProcessor,
    private readonly options: SentencePieceOptions,
  ) {
    let next = this.sp.get_piece_size();
    for (const t of options.added_tokens) {
      if (!t.content || this.added.has(t.content)) continue;
      const inVocab = this.sp.piece_to_id(t.content);
      const id = t.id ?? (this.sp.id_to_piece(inVocab) === t.content ? inVocab : next++);
      next = Math.max(next, id + 1);
      this.added.set(t.content, { ...t, id });
      this.addedById.set(id, t.content);
    }
  }

  /** Splits text on added tokens (longest first), honouring their lstrip/rstrip. */
  private split(text: string): string[] {
    const tokens = [...this.added.keys()].sort((a, b) => b.length - a.length);
    const out: string[] = [];
    let chunk = "";
    for (let i = 0; i < text.length; ) {
      const tok = tokens.find((t) => text.startsWith(t, i));
      if (!tok) {
        chunk += text[i++];
        continue;
      }
      const spec = this.added.get(tok) as AddedTokenSpec;
      out.push(spec.lstrip ? chunk.trimEnd() : chunk, tok);
      chunk = "";
      i += tok.length;
      if (spec.rstrip) while (i < text.length && /\s/.test(text[i])) i++;
    }
    out.push(chunk);
    return out;
  }

  encodeText(text: string): number[] {
    const ids: number[] = [];
    this.split(text).forEach((part, i) => {
      if (i % 2 === 1) ids.push((this.added.get(part) as { id: number }).id);
      else if (part) ids.push(...this.sp.encode(part));
    });
    return ids;
  }

  private specialId(token: string | null): number[] {
    return token === null ? [] : [this.tokenToId(token) ?? this.sp.unk_id()];
  }

  addSpecialTokens(ids: number[]): number[] {
    const { add_bos_token, add_eos_token, bos_token, eos_token } = this.options;
    return [...(add_bos_token ? this.specialId(bos_token) : []), ...ids, ...(add_eos_token ? this.specialId(eos_token) : [])];
  }

  numSpecialTokensToAdd(): number {
    return this.addSpecialTokens([]).length;
  }

  /** Special tokens are written verbatim and the rest decoded by sentencepiece, as LlamaTokenizer.convert_tokens_to_string. */
  private tokensToString(ids: number[], special: ReadonlySet<string>): string {
    let out = "";
    let run: number[] = [];
    let prevSpecial = false;
    ids.forEach((id, i) => {
      const tok = this.idToToken(id) ?? "";
      if (special.has(tok)) {
        if (!prevSpecial && i !== 0) out += " ";
        out += this.sp.decode(run) + tok;
        run = [];
        prevSpecial = true;
      } else {
        if (prevSpecial && i === 1 && !tok.startsWith(SPACE_SYMBOL)) out += " ";
        run.push(id);
        prevSpecial = false;
      }
    });
    return out + this.sp.decode(run);
  }

  decode(ids: number[], skipSpecialTokens: boolean, specialTokens: ReadonlySet<string>): string {
    // Non-special added tokens are emitted as they are, between decoded runs (PreTrainedTokenizer._decode).
    const parts: string[] = [];
    let run: number[] = [];
    const flush = () => {
      const s = run.length ? this.tokensToString(run, specialTokens) : "";
      if (s) parts.push(s);
      run = [];
    };
    for (const id of ids) {
      const tok = this.idToToken(id);
      if (tok === undefined) throw new IndexError(`token id ${id} is out of range [0, ${this.length})`);
      if (specialTokens.has(tok) && skipSpecialTokens) continue;
      if (this.addedById.has(id) && !specialTokens.has(tok)) {
        flush();
        parts.push(tok);
      } else run.push(id);
    }
    flush();
    return parts.join(" ");
  }

  tokenToId(token: string): number | undefined {
    const added = this.added.get(token);
    if (added) return added.id;
    const id = this.sp.piece_to_id(token);
    return id !== this.sp.unk_id() || this.sp.id_to_piece(id) === token ? id : undefined;
  }

  idToToken(id: number): string | undefined {
    return this.addedById.get(id) ?? (id >= 0 && id < this.sp.get_piece_size() ? this.sp.id_to_piece(id) : undefined);
  }

  get vocabSize(): number {
    return this.sp.get_piece_size();
  }

  get length(): number {
    return Math.max(this.sp.get_piece_size(), ...[...this.addedById.keys()].map((id) => id + 1));
  }

  get specialTokens(): string[] {
    return [...this.added.values()].filter((t) => t.special).map((t) => t.content);
  }
}
