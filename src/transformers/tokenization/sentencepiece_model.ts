// Reads a SentencePiece `tokenizer.model` (a serialized sentencepiece ModelProto) without Python.
// Field numbers are those of sentencepiece_model.proto; unknown fields are skipped, as protobuf does.
import { NotImplementedError } from "../../torch/errors.js";
import { decode, fields, ProtobufError, WireType, type Field } from "./protobuf.js";

/** ModelProto.SentencePiece.Type */
export enum PieceType {
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  USER_DEFINED = 4,
  UNUSED = 5,
  BYTE = 6,
}

/** TrainerSpec.ModelType */
export enum ModelType {
  UNIGRAM = 1,
  BPE = 2,
  WORD = 3,
  CHAR = 4,
}

export interface SentencePiece {
  piece: string;
  score: number;
  type: PieceType;
}

export interface TrainerSpec {
  model_type: ModelType;
  byte_fallback: boolean;
  treat_whitespace_as_suffix: boolean;
  unk_id: number;
  bos_id: number;
  eos_id: number;
  pad_id: number;
  unk_surface: string;
}

export interface NormalizerSpec {
  name: string;
  precompiled_charsmap: Uint8Array;
  add_dummy_prefix: boolean;
  remove_extra_whitespaces: boolean;
  escape_whitespaces: boolean;
}

export interface ModelProto {
  pieces: SentencePiece[];
  trainer_spec: TrainerSpec;
  normalizer_spec: NormalizerSpec;
}

function expectWire(f: Field, wire: WireType, what: string): Field {
  if (f.wireType !== wire) throw new ProtobufError(`${what} (field ${f.number}) has wire type ${f.wireType}, expected ${wire}`);
  return f;
}

function parsePiece(buf: Uint8Array): SentencePiece {
  const p: SentencePiece = { piece: "", score: 0, type: PieceType.NORMAL };
  for (const f of fields(buf)) {
    if (f.number === 1) p.piece = decode.string(expectWire(f, WireType.LengthDelimited, "piece"));
    else if (f.number === 2) p.score = decode.float(expectWire(f, WireType.Fixed32, "score"));
    else if (f.number === 3) p.type = decode.int32(expectWire(f, WireType.Varint, "type")) as PieceType;
  }
  return p;
}

function parseTrainerSpec(buf: Uint8Array): TrainerSpec {
  const t: TrainerSpec = {
    model_type: ModelType.UNIGRAM,
    byte_fallback: false,
    treat_whitespace_as_suffix: false,
    unk_id: 0,
    bos_id: 1,
    eos_id: 2,
    pad_id: -1,
    unk_surface: " \u2047 ",
  };
  const ints: Record<number, "model_type" | "unk_id" | "bos_id" | "eos_id" | "pad_id"> = {
    3: "model_type",
    40: "unk_id",
    41: "bos_id",
    42: "eos_id",
    43: "pad_id",
  };
  const bools: Record<number, "byte_fallback" | "treat_whitespace_as_suffix"> = { 35: "byte_fallback", 24: "treat_whitespace_as_suffix" };
  for (const f of fields(buf)) {
    const i = ints[f.number];
    const b = bools[f.number];
    if (i) t[i] = decode.int32(expectWire(f, WireType.Varint, i));
    else if (b) t[b] = decode.bool(expectWire(f, WireType.Varint, b));
    else if (f.number === 44) t.unk_surface = decode.string(expectWire(f, WireType.LengthDelimited, "unk_surface"));
  }
  return t;
}

function parseNormalizerSpec(buf: Uint8Array): NormalizerSpec {
  const n: NormalizerSpec = {
    name: "",
    precompiled_charsmap: new Uint8Array(),
    add_dummy_prefix: true,
    remove_extra_whitespaces: true,
    escape_whitespaces: true,
  };
  const bools: Record<number, "add_dummy_prefix" | "remove_extra_whitespaces" | "escape_whitespaces"> = {
    3: "add_dummy_prefix",
    4: "remove_extra_whitespaces",
    5: "escape_whitespaces",
  };
  for (const f of fields(buf)) {
    const b = bools[f.number];
    if (b) n[b] = decode.bool(expectWire(f, WireType.Varint, b));
    else if (f.number === 1) n.name = decode.string(expectWire(f, WireType.LengthDelimited, "name"));
    else if (f.number === 2) n.precompiled_charsmap = expectWire(f, WireType.LengthDelimited, "precompiled_charsmap").bytes;
  }
  return n;
}

/** Parses a serialized ModelProto; `source` names the file in error messages. */
export function parseModelProto(buf: Uint8Array, source: string): ModelProto {
  const pieces: SentencePiece[] = [];
  let trainer_spec: TrainerSpec | undefined;
  let normalizer_spec: NormalizerSpec | undefined;
  try {
    for (const f of fields(buf)) {
      if (f.number === 1) pieces.push(parsePiece(expectWire(f, WireType.LengthDelimited, "pieces").bytes));
      else if (f.number === 2) trainer_spec = parseTrainerSpec(expectWire(f, WireType.LengthDelimited, "trainer_spec").bytes);
      else if (f.number === 3) normalizer_spec = parseNormalizerSpec(expectWire(f, WireType.LengthDelimited, "normalizer_spec").bytes);
    }
  } catch (e) {
    if (e instanceof ProtobufError)
      throw new Error(`${source}: not a valid SentencePiece model (${e.message}); the file may be truncated or corrupted`);
    throw e;
  }
  if (pieces.length === 0) throw new Error(`${source}: not a valid SentencePiece model (it has no pieces)`);
  // sentencepiece always writes both specs after the pieces, so a missing one means the file was cut short.
  if (!trainer_spec || !normalizer_spec) {
    throw new Error(
      `${source}: not a valid SentencePiece model (no ${trainer_spec ? "normalizer_spec" : "trainer_spec"}); the file may be truncated or corrupted`,
    );
  }
  const model: ModelProto = { pieces, trainer_spec, normalizer_spec };
  const { model_type } = trainer_spec;
  if (model_type !== ModelType.BPE && model_type !== ModelType.UNIGRAM) {
    throw new NotImplementedError(
      `${source}: SentencePiece model_type ${ModelType[model_type] ?? model_type} is not supported (only BPE and UNIGRAM)`,
    );
  }
  return model;
}
