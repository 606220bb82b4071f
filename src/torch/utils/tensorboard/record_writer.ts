// TFRecord framing: uint64 length, masked CRC-32C of the length, the data, masked CRC-32C of the data
// (all little-endian).
import { maskedCrc32c } from "./crc32c.js";

export function frameRecord(data: Uint8Array): Uint8Array {
  const header = new Uint8Array(12);
  const view = new DataView(header.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(header.subarray(0, 8)), true);
  const footer = new Uint8Array(4);
  new DataView(footer.buffer).setUint32(0, maskedCrc32c(data), true);
  return Buffer.concat([header, data, footer]);
}
