// The few protobuf messages of TensorBoard's event files (tensorflow/core/util/event.proto,
// summary.proto), encoded by hand: an Event holds a wall time, a step and either the file version or
// a Summary of tagged values.

const enum Wire {
  Varint = 0,
  Fixed64 = 1,
  Bytes = 2,
  Fixed32 = 5,
}

/** Appends protobuf fields to a growing byte list. */
class ProtoWriter {
  private readonly parts: Uint8Array[] = [];

  private key(field: number, wire: Wire): void {
    this.varint(BigInt((field << 3) | wire));
  }

  private varint(value: bigint): void {
    const bytes: number[] = [];
    // Negative int64 values are written as their 64-bit two's complement, as protobuf does.
    let v = BigInt.asUintN(64, value);
    do {
      let b = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) b |= 0x80;
      bytes.push(b);
    } while (v !== 0n);
    this.parts.push(Uint8Array.from(bytes));
  }

  int64(field: number, value: number | bigint): this {
    this.key(field, Wire.Varint);
    this.varint(BigInt(value));
    return this;
  }

  double(field: number, value: number): this {
    this.key(field, Wire.Fixed64);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, value, true);
    this.parts.push(b);
    return this;
  }

  float(field: number, value: number): this {
    this.key(field, Wire.Fixed32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.parts.push(b);
    return this;
  }

  bytes(field: number, value: Uint8Array | string): this {
    const b = typeof value === "string" ? new TextEncoder().encode(value) : value;
    this.key(field, Wire.Bytes);
    this.varint(BigInt(b.length));
    this.parts.push(b);
    return this;
  }

  finish(): Uint8Array {
    return Buffer.concat(this.parts);
  }
}

/** One value of a Summary: a scalar (simple_value) or a text tensor for TensorBoard's text plugin. */
export type SummaryValue = { tag: string; simple_value: number } | { tag: string; text: string };

// tensorflow.DataType.DT_STRING
const DT_STRING = 7;

function encodeValue(value: SummaryValue): Uint8Array {
  const w = new ProtoWriter().bytes(1, value.tag);
  if ("simple_value" in value) return w.float(2, value.simple_value).finish();
  // Value.metadata (9) = SummaryMetadata{plugin_data (1) = PluginData{plugin_name (1)}}
  const metadata = new ProtoWriter().bytes(1, new ProtoWriter().bytes(1, "text").finish()).finish();
  // Value.tensor (8) = TensorProto{dtype (1), tensor_shape (2) = {dim (2) = {size (1)}}, string_val (8)}
  const shape = new ProtoWriter().bytes(2, new ProtoWriter().int64(1, 1).finish()).finish();
  const tensor = new ProtoWriter().int64(1, DT_STRING).bytes(2, shape).bytes(8, value.text).finish();
  return w.bytes(8, tensor).bytes(9, metadata).finish();
}

export interface EventFields {
  wall_time: number;
  step: number;
  file_version?: string;
  summary?: SummaryValue[];
}

/** Event{wall_time (1, double), step (2, int64), file_version (3, string) | summary (5, Summary{value (1)})}. */
export function encodeEvent(event: EventFields): Uint8Array {
  const w = new ProtoWriter().double(1, event.wall_time).int64(2, event.step);
  if (event.file_version !== undefined) w.bytes(3, event.file_version);
  if (event.summary !== undefined) {
    const summary = new ProtoWriter();
    for (const v of event.summary) summary.bytes(1, encodeValue(v));
    w.bytes(5, summary.finish());
  }
  return w.finish();
}
