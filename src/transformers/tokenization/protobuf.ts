// A minimal protobuf wire-format reader: enough to walk a message field by field. Schemas live
// with their callers (see sentencepiece_model.ts), so this file knows nothing about SentencePiece.

export const enum WireType {
  Varint = 0,
  Fixed64 = 1,
  LengthDelimited = 2,
  Fixed32 = 5,
}

/** One field of a message: its number, wire type and raw payload. */
export interface Field {
  number: number;
  wireType: WireType;
  /** Varint payload (as a bigint so int64/negative int32 survive), else 0n. */
  varint: bigint;
  /** Fixed32/Fixed64/length-delimited payload bytes, else empty. */
  bytes: Uint8Array;
}

export class ProtobufError extends Error {}

function readVarint(buf: Uint8Array, pos: number): [bigint, number] {
  let result = 0n;
  for (let shift = 0n; shift < 70n; shift += 7n) {
    if (pos >= buf.length) throw new ProtobufError(`truncated varint at byte ${pos}`);
    const b = buf[pos++];
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, pos];
  }
  throw new ProtobufError(`varint longer than 10 bytes at byte ${pos}`);
}

function take(buf: Uint8Array, pos: number, n: number, what: string): Uint8Array {
  if (pos + n > buf.length) throw new ProtobufError(`truncated ${what}: needs ${n} bytes at byte ${pos}, only ${buf.length - pos} left`);
  return buf.subarray(pos, pos + n);
}

/** Splits a serialized message into its fields, in order. Throws ProtobufError on malformed input. */
export function* fields(buf: Uint8Array): Generator<Field> {
  let pos = 0;
  while (pos < buf.length) {
    const [key, p] = readVarint(buf, pos);
    pos = p;
    const number = Number(key >> 3n);
    const wireType = Number(key & 7n) as WireType;
    if (number === 0) throw new ProtobufError(`field number 0 at byte ${pos}`);
    switch (wireType) {
      case WireType.Varint: {
        const [v, q] = readVarint(buf, pos);
        pos = q;
        yield { number, wireType, varint: v, bytes: new Uint8Array() };
        break;
      }
      case WireType.Fixed64:
      case WireType.Fixed32: {
        const n = wireType === WireType.Fixed64 ? 8 : 4;
        yield { number, wireType, varint: 0n, bytes: take(buf, pos, n, `field ${number}`) };
        pos += n;
        break;
      }
      case WireType.LengthDelimited: {
        const [len, q] = readVarint(buf, pos);
        pos = q;
        yield { number, wireType, varint: 0n, bytes: take(buf, pos, Number(len), `field ${number}`) };
        pos += Number(len);
        break;
      }
      default:
        throw new ProtobufError(`unsupported wire type ${wireType as number} for field ${number} at byte ${pos}`);
    }
  }
}

/** Payload decoders for the scalar types the callers need. */
export const decode = {
  int32: (f: Field): number => Number(BigInt.asIntN(32, f.varint)),
  bool: (f: Field): boolean => f.varint !== 0n,
  float: (f: Field): number => new DataView(f.bytes.buffer, f.bytes.byteOffset, 4).getFloat32(0, true),
  string: (f: Field): string => new TextDecoder("utf-8").decode(f.bytes),
};
