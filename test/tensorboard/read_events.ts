// An independent reader of TensorBoard event files for the tests: TFRecord framing with CRC checks and
// a generic protobuf decoder, then the Event/Summary fields TensorBoard reads.
import { readFileSync } from "node:fs";
import { maskedCrc32c } from "../../src/torch/utils/tensorboard/crc32c.js";

type Field = { field: number; wire: number; varint?: bigint; bytes?: Uint8Array; fixed?: DataView };

function decodeFields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const f: Field = { field: key >> 3, wire: key & 7 };
    if (f.wire === 0) f.varint = varint();
    else if (f.wire === 1 || f.wire === 5) {
      const n = f.wire === 1 ? 8 : 4;
      f.fixed = new DataView(buf.buffer, buf.byteOffset + pos, n);
      pos += n;
    } else if (f.wire === 2) {
      const n = Number(varint());
      f.bytes = buf.subarray(pos, pos + n);
      pos += n;
    } else throw new Error(`unexpected wire type ${f.wire}`);
    out.push(f);
  }
  if (pos !== buf.length) throw new Error("protobuf message overran its bytes");
  return out;
}

export interface ParsedValue {
  tag: string;
  simple_value?: number;
  text?: string;
  plugin?: string;
}
export interface ParsedEvent {
  wall_time: number;
  step: number;
  file_version?: string;
  values: ParsedValue[];
}

const utf8 = (b: Uint8Array) => new TextDecoder().decode(b);

function parseValue(buf: Uint8Array): ParsedValue {
  const v: ParsedValue = { tag: "" };
  for (const f of decodeFields(buf)) {
    if (f.field === 1) v.tag = utf8(f.bytes!);
    if (f.field === 2) v.simple_value = f.fixed!.getFloat32(0, true);
    if (f.field === 8) for (const t of decodeFields(f.bytes!)) if (t.field === 8) v.text = utf8(t.bytes!);
    if (f.field === 9) for (const m of decodeFields(f.bytes!)) if (m.field === 1) v.plugin = utf8(decodeFields(m.bytes!)[0]!.bytes!);
  }
  return v;
}

/** Reads every record of an event file, throwing on a bad length or data CRC. */
export function readEventFile(path: string): ParsedEvent[] {
  const buf = readFileSync(path);
  const events: ParsedEvent[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const len = Number(buf.readBigUInt64LE(pos));
    if (buf.readUInt32LE(pos + 8) !== maskedCrc32c(buf.subarray(pos, pos + 8))) throw new Error(`bad length CRC at byte ${pos}`);
    const data = buf.subarray(pos + 12, pos + 12 + len);
    if (buf.readUInt32LE(pos + 12 + len) !== maskedCrc32c(data)) throw new Error(`bad data CRC at byte ${pos}`);
    pos += 16 + len;
    const event: ParsedEvent = { wall_time: 0, step: 0, values: [] };
    for (const f of decodeFields(data)) {
      if (f.field === 1) event.wall_time = f.fixed!.getFloat64(0, true);
      if (f.field === 2) event.step = Number(BigInt.asIntN(64, f.varint!));
      if (f.field === 3) event.file_version = utf8(f.bytes!);
      if (f.field === 5) for (const s of decodeFields(f.bytes!)) if (s.field === 1) event.values.push(parseValue(s.bytes!));
    }
    events.push(event);
  }
  return events;
}
