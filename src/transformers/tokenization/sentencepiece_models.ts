// SentencePiece's segmentation models on normalized text: BPE (bpe_model.cc, score-ordered merges)
// and Unigram (unigram_model.cc, Viterbi over piece log-probabilities). Both return [piece, id]
// pairs, with id -1 standing for "not in the vocabulary" (the processor maps it to <unk>).
import { PieceType, type SentencePiece } from "./sentencepiece_model.js";
import type { PrefixMatcher } from "./sentencepiece_normalizer.js";

export type Segment = [piece: string, id: number];

export interface SegmentationModel {
  encode(normalized: string): Segment[];
}

/** Pieces a model may emit (sentencepiece's `pieces_`): NORMAL, USER_DEFINED and UNUSED. */
export function normalPieces(pieces: SentencePiece[]): Map<string, number> {
  const m = new Map<string, number>();
  pieces.forEach((p, id) => {
    if (p.type === PieceType.NORMAL || p.type === PieceType.USER_DEFINED || p.type === PieceType.UNUSED) {
      if (!m.has(p.piece)) m.set(p.piece, id);
    }
  });
  return m;
}

/** Splits text into characters, keeping user-defined symbols whole (they are never merged). */
function initialSymbols(text: string, matcher: PrefixMatcher): { piece: string; frozen: boolean }[] {
  const out: { piece: string; frozen: boolean }[] = [];
  for (let i = 0; i < text.length; ) {
    const sym = matcher.match(text, i);
    const n = sym ? sym.length : (text.codePointAt(i) ?? 0) > 0xffff ? 2 : 1;
    out.push({ piece: text.slice(i, i + n), frozen: sym !== "" });
    i += n;
  }
  return out;
}

interface Pair {
  left: number;
  right: number;
  score: number;
  piece: string;
}

/** Max-heap on score, ties to the leftmost pair (bpe_model.cc's SymbolPairComparator). */
class PairQueue {
  private readonly heap: Pair[] = [];
  private before(a: Pair, b: Pair): boolean {
    return a.score > b.score || (a.score === b.score && a.left < b.left);
  }
  get size(): number {
    return this.heap.length;
  }
  push(p: Pair): void {
    const h = this.heap;
    h.push(p);
    for (let i = h.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!this.before(h[i], h[parent])) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }
  pop(): Pair {
    const h = this.heap;
    const top = h[0];
    const last = h.pop() as Pair;
    if (h.length) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.before(h[l], h[m])) m = l;
        if (r < h.length && this.before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

export class BpeModel implements SegmentationModel {
  private readonly vocab: Map<string, number>;
  constructor(
    private readonly pieces: SentencePiece[],
    private readonly matcher: PrefixMatcher,
  ) {
    this.vocab = normalPieces(pieces);
  }

  encode(normalized: string): Segment[] {
    const symbols = initialSymbols(normalized, this.matcher).map((s, i, all) => ({
      ...s,
      prev: i - 1,
      next: i + 1 < all.length ? i + 1 : -1,
    }));
    if (!symbols.length) return [];
    const agenda = new PairQueue();
    // An UNUSED piece may still be formed by merging; it is then split back into its parts.
    const revMerge = new Map<string, [string, string]>();
    const addPair = (left: number, right: number) => {
      if (left === -1 || right === -1 || symbols[left].frozen || symbols[right].frozen) return;
      const piece = symbols[left].piece + symbols[right].piece;
      const id = this.vocab.get(piece);
      if (id === undefined) return;
      agenda.push({ left, right, score: this.pieces[id].score, piece });
      if (this.pieces[id].type === PieceType.UNUSED) revMerge.set(piece, [symbols[left].piece, symbols[right].piece]);
    };
    for (let i = 1; i < symbols.length; i++) addPair(i - 1, i);
    while (agenda.size) {
      const top = agenda.pop();
      const l = symbols[top.left];
      const r = symbols[top.right];
      // Stale entry: one side was merged away since this pair was queued.
      if (!l.piece || !r.piece || l.piece + r.piece !== top.piece) continue;
      l.piece = top.piece;
      l.next = r.next;
      if (r.next >= 0) symbols[r.next].prev = top.left;
      r.piece = "";
      addPair(l.prev, top.left);
      addPair(top.left, l.next);
    }
    const out: Segment[] = [];
    const resegment = (w: string) => {
      const id = this.vocab.get(w) ?? -1;
      const parts = id >= 0 && this.pieces[id].type === PieceType.UNUSED ? revMerge.get(w) : undefined;
      if (!parts) out.push([w, id]);
      else parts.forEach(resegment);
    };
    for (let i = 0; i !== -1; i = symbols[i].next) resegment(symbols[i].piece);
    return out;
  }
}

const utf8 = new TextEncoder();

export class UnigramModel implements SegmentationModel {
  private readonly vocab: Map<string, number>;
  private readonly maxPieceChars: number;
  private readonly minScore: number;
  private readonly maxScore: number;

  constructor(
    private readonly pieces: SentencePiece[],
    private readonly unkId: number,
  ) {
    this.vocab = normalPieces(pieces);
    this.maxPieceChars = Math.max(1, ...[...this.vocab.keys()].map((p) => p.length));
    const normal = pieces.filter((p) => p.type === PieceType.NORMAL).map((p) => p.score);
    this.minScore = Math.min(...normal);
    this.maxScore = Math.max(...normal);
  }

  encode(normalized: string): Segment[] {
    // Scores are float32 in sentencepiece; round sums the same way so ties break identically.
    const f = Math.fround;
    const unkScore = f(this.minScore - 10);
    const n = normalized.length;
    const best: { id: number; score: number; start: number }[] = Array.from({ length: n + 1 }, () => ({ id: -1, score: 0, start: -1 }));
    const relax = (end: number, start: number, id: number, score: number) => {
      const node = best[end];
      if (node.start === -1 || score > node.score) {
        node.score = f(score);
        node.start = start;
        node.id = id;
      }
    };
    for (let start = 0; start < n; ) {
      const charLen = (normalized.codePointAt(start) ?? 0) > 0xffff ? 2 : 1;
      const here = best[start].score;
      let hasSingle = false;
      for (let end = start + 1; end <= Math.min(n, start + this.maxPieceChars); end++) {
        const piece = normalized.slice(start, end);
        const id = this.vocab.get(piece);
        if (id === undefined || this.pieces[id].type === PieceType.UNUSED) continue;
        if (this.pieces[id].type === PieceType.USER_DEFINED) {
          // User-defined symbols get a bonus so they always win (computed in double, as in C++).
          relax(end, start, id, f(utf8.encode(piece).length * this.maxScore) - 0.1 + here);
        } else {
          relax(end, start, id, f(this.pieces[id].score + here));
        }
        if (end - start === charLen) hasSingle = true;
      }
      if (!hasSingle) relax(start + charLen, start, this.unkId, f(unkScore + here));
      start += charLen;
    }
    const out: Segment[] = [];
    for (let end = n; end > 0; end = best[end].start) {
      const node = best[end];
      out.push([normalized.slice(node.start, end), node.id]);
    }
    return out.reverse();
  }
}
