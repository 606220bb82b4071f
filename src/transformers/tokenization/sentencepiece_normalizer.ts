// SentencePiece's text normalizer (normalizer.cc): the precompiled character map (a darts-clone
// double-array trie over UTF-8 bytes), whitespace trimming/collapsing, the dummy prefix and the
// escaping of spaces as "▁". User-defined symbols pass through unnormalized.
import type { NormalizerSpec } from "./sentencepiece_model.js";

export const SPACE_SYMBOL = "\u2581";

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8");

/** The precompiled charsmap: [trie size (u32 LE)][double-array units (u32 LE)][NUL-terminated replacements]. */
class CharsMap {
  private readonly units: Uint32Array;
  private readonly replacements: Uint8Array;

  constructor(blob: Uint8Array) {
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    if (blob.length < 4) throw new Error("precompiled_charsmap is shorter than its 4-byte header");
    const trieSize = view.getUint32(0, true);
    if (trieSize % 4 !== 0 || 4 + trieSize > blob.length)
      throw new Error(`precompiled_charsmap trie size ${trieSize} does not fit the ${blob.length}-byte blob`);
    this.units = new Uint32Array(trieSize / 4);
    for (let i = 0; i < this.units.length; i++) this.units[i] = view.getUint32(4 + 4 * i, true);
    this.replacements = blob.subarray(4 + trieSize);
  }

  /** Longest rule matching bytes[pos..]: [replacement, matched byte length], or null (darts-clone commonPrefixSearch). */
  longestMatch(bytes: Uint8Array, pos: number): [string, number] | null {
    const u = this.units;
    const offset = (unit: number) => (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
    let node = offset(u[0]);
    let best: [number, number] | null = null;
    for (let i = pos; i < bytes.length; i++) {
      node ^= bytes[i];
      const unit = u[node];
      if (unit === undefined || (unit & 0x800000ff) !== bytes[i]) break;
      node ^= offset(unit);
      if ((unit >>> 8) & 1) best = [u[node] & 0x7fffffff, i + 1 - pos];
    }
    if (!best) return null;
    let end = best[0];
    while (end < this.replacements.length && this.replacements[end] !== 0) end++;
    return [utf8Decoder.decode(this.replacements.subarray(best[0], end)), best[1]];
  }
}

/** Longest user-defined symbol starting at text[i], or "" (sentencepiece's PrefixMatcher). */
export class PrefixMatcher {
  private readonly symbols: string[];
  constructor(symbols: string[]) {
    this.symbols = [...symbols].sort((a, b) => b.length - a.length);
  }
  match(text: string, i: number): string {
    for (const s of this.symbols) if (s && text.startsWith(s, i)) return s;
    return "";
  }
}

function codePointLength(text: string, i: number): number {
  return (text.codePointAt(i) ?? 0) > 0xffff ? 2 : 1;
}

export class SentencePieceNormalizer {
  private readonly charsMap: CharsMap | null;

  constructor(
    private readonly spec: NormalizerSpec,
    private readonly userDefined: PrefixMatcher,
    private readonly treatWhitespaceAsSuffix: boolean,
  ) {
    this.charsMap = spec.precompiled_charsmap.length ? new CharsMap(spec.precompiled_charsmap) : null;
  }

  /** Normalizes one prefix of text at string index i: [normalized piece, UTF-16 units consumed]. */
  private normalizePrefix(text: string, i: number, bytes: Uint8Array, bytePos: number): [string, number] {
    const sym = this.userDefined.match(text, i);
    if (sym) return [sym, sym.length];
    const m = this.charsMap?.longestMatch(bytes, bytePos);
    if (m) {
      // Rules cover whole characters, so walk characters until the matched bytes are covered.
      let consumed = 0;
      let b = 0;
      while (b < m[1] && i + consumed < text.length) {
        const n = codePointLength(text, i + consumed);
        b += utf8.encode(text.slice(i + consumed, i + consumed + n)).length;
        consumed += n;
      }
      return [m[0], consumed];
    }
    const n = codePointLength(text, i);
    return [text.slice(i, i + n), n];
  }

  normalize(text: string): string {
    const { add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces } = this.spec;
    const bytes = utf8.encode(text);
    let i = 0;
    let bytePos = 0;
    const step = (n: number) => {
      bytePos += utf8.encode(text.slice(i, i + n)).length;
      i += n;
    };
    if (remove_extra_whitespaces) {
      while (i < text.length) {
        const [sp, n] = this.normalizePrefix(text, i, bytes, bytePos);
        if (sp !== " ") break;
        step(n);
      }
    }
    if (i >= text.length) return "";
    const space = escape_whitespaces ? SPACE_SYMBOL : " ";
    let out = add_dummy_prefix && !this.treatWhitespaceAsSuffix ? space : "";
    let isPrevSpace = remove_extra_whitespaces;
    while (i < text.length) {
      let [sp, n] = this.normalizePrefix(text, i, bytes, bytePos);
      if (isPrevSpace) sp = sp.replace(/^ +/, "");
      if (sp) {
        out += escape_whitespaces ? sp.replaceAll(" ", SPACE_SYMBOL) : sp;
        isPrevSpace = sp.endsWith(" ");
      }
      step(n);
      if (!remove_extra_whitespaces) isPrevSpace = false;
    }
    if (remove_extra_whitespaces) while (out.endsWith(space)) out = out.slice(0, -space.length);
    if (this.treatWhitespaceAsSuffix && add_dummy_prefix) out += space;
    return out;
  }
}
