// SentencePieceProcessor without Python: loads a `tokenizer.model`, encodes text to ids and
// decodes ids to text with the semantics of sentencepiece_processor.cc (byte fallback, merged
// unknown runs, control pieces invisible, the dummy-prefix space dropped on decode).
import { IndexError } from "../../torch/errors.js";
import { readFileSync } from "node:fs";
import { ModelType, parseModelProto, PieceType, type ModelProto } from "./sentencepiece_model.js";
import { BpeModel, UnigramModel, type SegmentationModel } from "./sentencepiece_models.js";
import { PrefixMatcher, SentencePieceNormalizer, SPACE_SYMBOL } from "./sentencepiece_normalizer.js";

const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;

function bytePiece(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Decodes byte pieces one character at a time; each byte of an invalid sequence becomes U+FFFD (as sentencepiece does). */
function decodeBytePieces(bytes: number[]): string {
  let out = "";
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i];
    const len = lead < 0x80 ? 1 : lead >= 0xc2 && lead < 0xe0 ? 2 : lead >= 0xe0 && lead < 0xf0 ? 3 : lead >= 0xf0 && lead < 0xf5 ? 4 : 0;
    try {
      if (len === 0 || i + len > bytes.length) throw new TypeError("invalid");
      out += strictUtf8.decode(new Uint8Array(bytes.slice(i, i + len)));
      i += len;
    } catch {
      out += "\uFFFD";
      i += 1;
    }
  }
  return out;
}

export class SentencePieceProcessor {
  readonly model: ModelProto;
  private readonly normalizer: SentencePieceNormalizer;
  private readonly segmenter: SegmentationModel;
  private readonly pieceToIdMap = new Map<string, number>();
  private readonly unkId: number;

  constructor(serialized: Uint8Array, source = "<bytes>") {
    this.model = parseModelProto(serialized, source);
    const { pieces, trainer_spec } = this.model;
    // Reserved pieces (control, unknown, byte) take precedence in piece→id lookups, as in model_interface.cc.
    const reserved = (t: PieceType) => t === PieceType.CONTROL || t === PieceType.UNKNOWN || t === PieceType.BYTE;
    pieces.forEach((p, id) => reserved(p.type) && !this.pieceToIdMap.has(p.piece) && this.pieceToIdMap.set(p.piece, id));
    pieces.forEach((p, id) => !this.pieceToIdMap.has(p.piece) && this.pieceToIdMap.set(p.piece, id));
    const unk = pieces.findIndex((p) => p.type === PieceType.UNKNOWN);
    if (unk < 0) throw new Error(`${source}: SentencePiece model has no unknown piece`);
    this.unkId = unk;
    const matcher = new PrefixMatcher(pieces.filter((p) => p.type === PieceType.USER_DEFINED).map((p) => p.piece));
    this.normalizer = new SentencePieceNormalizer(this.model.normalizer_spec, matcher, trainer_spec.treat_whitespace_as_suffix);
    this.segmenter = trainer_spec.model_type === ModelType.BPE ? new BpeModel(pieces, matcher) : new UnigramModel(pieces, unk);
  }

  static fromFile(file: string): SentencePieceProcessor {
    return new SentencePieceProcessor(new Uint8Array(readFileSync(file)), file);
  }

  get_piece_size(): number {
    return this.model.pieces.length;
  }

  id_to_piece(id: number): string {
    const p = this.model.pieces[id];
    if (!p) throw new IndexError(`piece id ${id} is out of range [0, ${this.model.pieces.length})`);
    return p.piece;
  }

  piece_to_id(piece: string): number {
    return this.pieceToIdMap.get(piece) ?? this.unkId;
  }

  unk_id(): number {
    return this.unkId;
  }

  bos_id(): number {
    return this.model.trainer_spec.bos_id;
  }

  eos_id(): number {
    return this.model.trainer_spec.eos_id;
  }

  pad_id(): number {
    return this.model.trainer_spec.pad_id;
  }

  is_control(id: number): boolean {
    return this.model.pieces[id]?.type === PieceType.CONTROL;
  }

  is_byte(id: number): boolean {
    return this.model.pieces[id]?.type === PieceType.BYTE;
  }

  /** Text → ids, as `SentencePieceProcessor.encode(text)`. */
  encode(text: string): number[] {
    const ids: number[] = [];
    let prevUnk = false;
    for (const [piece, rawId] of this.segmenter.encode(this.normalizer.normalize(text))) {
      const id = rawId < 0 ? this.unkId : rawId;
      const isUnk = id === this.unkId;
      if (isUnk && this.model.trainer_spec.byte_fallback) {
        for (const b of new TextEncoder().encode(piece)) ids.push(this.piece_to_id(bytePiece(b)));
      } else if (!(isUnk && prevUnk)) {
        // A run of unknown pieces becomes one <unk>.
        ids.push(id);
      }
      prevUnk = isUnk;
    }
    return ids;
  }

  /** Ids → text, as `SentencePieceProcessor.decode(ids)`. */
  decode(ids: readonly number[]): string {
    const { add_dummy_prefix, remove_extra_whitespaces } = this.model.normalizer_spec;
    let text = "";
    let bytes: number[] = [];
    const flushBytes = () => {
      text += decodeBytePieces(bytes);
      bytes = [];
    };
    let isBosWs = true;
    let bosWsSeen = false;
    for (const id of ids) {
      const piece = this.id_to_piece(id);
      if (this.is_byte(id)) {
        bytes.push(parseInt((BYTE_PIECE.exec(piece) as RegExpExecArray)[1], 16));
        continue;
      }
      flushBytes();
      if (bosWsSeen || text) isBosWs = false;
      bosWsSeen = false;
      if (this.is_control(id)) continue;
      if (id === this.unkId) {
        text += this.model.trainer_spec.unk_surface;
        continue;
      }
      let p = piece;
      if (isBosWs && (add_dummy_prefix || remove_extra_whitespaces) && p.startsWith(SPACE_SYMBOL)) {
        p = p.slice(SPACE_SYMBOL.length);
        bosWsSeen = !remove_extra_whitespaces;
      }
      text += p.replaceAll(SPACE_SYMBOL, " ");
    }
    flushBytes();
    return text;
  }
}
