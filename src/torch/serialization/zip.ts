// The zip container of torch.save files: uncompressed ("stored") records, each record's data
// aligned to 64 bytes (so a reader could mmap it), zip64 when a size or offset needs it. Both sides
// work on a file descriptor so that record data goes straight between disk and tensor memory and
// files larger than a JS buffer work. Written here rather than taken from an npm zip library
// because those work on whole in-memory buffers and cannot align records.
import { closeSync, fstatSync, openSync } from "node:fs";
import { crc32 } from "node:zlib";
import { readFully, writeFully } from "./io.js";

const LOCAL_SIG = 0x04034b50;
const CENTRAL_SIG = 0x02014b50;
const EOCD_SIG = 0x06054b50;
const EOCD64_SIG = 0x06064b50;
const EOCD64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EXTRA = 0x0001;
const PAD_EXTRA = 0x4246; // "FB", the id PyTorch uses for its alignment padding
const U32_MAX = 0xffffffff;
const UTF8_FLAG = 0x0800;

/** A problem with the container itself; messages name the file. */
export class ZipFormatError extends Error {
  constructor(file: string, problem: string) {
    super(`${file}: not a valid torch zip archive: ${problem}`);
    this.name = "ZipFormatError";
  }
}

export interface ZipEntry {
  readonly name: string;
  /** Absolute file offset of the record's data. */
  readonly dataOffset: number;
  readonly size: number;
  readonly crc: number;
}

function u64(view: DataView, at: number): number {
  const v = view.getBigUint64(at, true);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(v);
}

/** Reads the central directory of a stored-records zip; record data is read on demand. */
export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  readonly fd: number;
  private readonly fileSize: number;

  constructor(readonly file: string) {
    this.fd = openSync(file, "r");
    try {
      this.fileSize = fstatSync(this.fd).size;
      this.readDirectory();
    } catch (e) {
      closeSync(this.fd);
      throw e;
    }
  }

  private fail(problem: string): never {
    throw new ZipFormatError(this.file, problem);
  }

  private bytes(position: number, length: number, what: string): DataView {
    if (position < 0 || length < 0 || position + length > this.fileSize) {
      this.fail(`${what} at offset ${position} (+${length} bytes) lies outside the file (${this.fileSize} bytes)`);
    }
    const buf = new Uint8Array(length);
    readFully(this.fd, buf, position);
    return new DataView(buf.buffer);
  }

  private readDirectory(): void {
    // The end-of-central-directory record sits in the last 22 + 65535 (comment) bytes.
    const tailLen = Math.min(this.fileSize, 22 + 0xffff);
    if (tailLen < 22) this.fail(`file too short (${this.fileSize} bytes)`);
    const tail = this.bytes(this.fileSize - tailLen, tailLen, "end of archive");
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tail.getUint32(i, true) === EOCD_SIG) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) this.fail("end-of-central-directory record not found (truncated or not a zip file)");
    let count = tail.getUint16(eocd + 10, true);
    let dirSize = tail.getUint32(eocd + 12, true);
    let dirOffset = tail.getUint32(eocd + 16, true);
    const eocdPos = this.fileSize - tailLen + eocd;
    if (count === 0xffff || dirSize === U32_MAX || dirOffset === U32_MAX) {
      const loc = this.bytes(eocdPos - 20, 20, "zip64 locator");
      if (loc.getUint32(0, true) !== EOCD64_LOCATOR_SIG) this.fail("zip64 locator missing");
      const rec = this.bytes(u64(loc, 8), 56, "zip64 end record");
      if (rec.getUint32(0, true) !== EOCD64_SIG) this.fail("zip64 end record has a bad signature");
      count = u64(rec, 32);
      dirSize = u64(rec, 40);
      dirOffset = u64(rec, 48);
    }
    if (count * 46 > dirSize) this.fail(`central directory of ${dirSize} bytes cannot hold ${count} entries`);
    const dir = this.bytes(dirOffset, dirSize, "central directory");
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > dirSize || dir.getUint32(p, true) !== CENTRAL_SIG) this.fail(`central directory entry ${i} is corrupt`);
      const method = dir.getUint16(p + 10, true);
      const crc = dir.getUint32(p + 16, true);
      let compressed = dir.getUint32(p + 20, true);
      let size = dir.getUint32(p + 24, true);
      const nameLen = dir.getUint16(p + 28, true);
      const extraLen = dir.getUint16(p + 30, true);
      const commentLen = dir.getUint16(p + 32, true);
      let localOffset = dir.getUint32(p + 42, true);
      if (p + 46 + nameLen + extraLen + commentLen > dirSize) this.fail(`central directory entry ${i} overruns the directory`);
      const name = new TextDecoder("utf-8", { fatal: false }).decode(new Uint8Array(dir.buffer, p + 46, nameLen));
      // A zip64 extra field holds, in order, whichever of the three values were set to 0xffffffff.
      for (let e = p + 46 + nameLen; e + 4 <= p + 46 + nameLen + extraLen; ) {
        const id = dir.getUint16(e, true);
        const len = dir.getUint16(e + 2, true);
        if (id === ZIP64_EXTRA) {
          let q = e + 4;
          const next = (): number => {
            if (q + 8 > e + 4 + len) this.fail(`zip64 field of ${name} is too short`);
            const v = u64(dir, q);
            q += 8;
            return v;
          };
          if (size === U32_MAX) size = next();
          if (compressed === U32_MAX) compressed = next();
          if (localOffset === U32_MAX) localOffset = next();
        }
        e += 4 + len;
      }
      if (method !== 0) this.fail(`record ${name} is compressed (method ${method}); torch archives store records uncompressed`);
      if (compressed !== size) this.fail(`record ${name} has compressed size ${compressed} != size ${size}`);
      const local = this.bytes(localOffset, 30, `local header of ${name}`);
      if (local.getUint32(0, true) !== LOCAL_SIG) this.fail(`local header of ${name} has a bad signature`);
      const dataOffset = localOffset + 30 + local.getUint16(26, true) + local.getUint16(28, true);
      if (dataOffset + size > this.fileSize) {
        this.fail(`record ${name} (${size} bytes at offset ${dataOffset}) extends past the end of the file (${this.fileSize} bytes)`);
      }
      this.entries.set(name, { name, dataOffset, size, crc });
      p += 46 + nameLen + extraLen + commentLen;
    }
  }

  entry(name: string): ZipEntry {
    const e = this.entries.get(name);
    if (e === undefined) this.fail(`record ${name} is missing`);
    return e;
  }

  /** Reads a record into `into` (exactly its size) and checks its CRC-32. */
  readInto(name: string, into: Uint8Array): void {
    const e = this.entry(name);
    if (into.length !== e.size) this.fail(`record ${name} has ${e.size} bytes, expected ${into.length}`);
    if (readFully(this.fd, into, e.dataOffset) !== e.size) this.fail(`record ${name} is truncated`);
    this.checkCrc(name, into);
  }

  /** Checks record data read by other means (e.g. straight into tensor memory). */
  checkCrc(name: string, data: Uint8Array): void {
    if (crc32(data) >>> 0 !== this.entry(name).crc) this.fail(`record ${name} fails its CRC-32 check (corrupted data)`);
  }

  read(name: string): Uint8Array {
    const out = new Uint8Array(this.entry(name).size);
    this.readInto(name, out);
    return out;
  }

  close(): void {
    closeSync(this.fd);
  }
}

interface WrittenEntry {
  name: Uint8Array;
  offset: number;
  size: number;
  crc: number;
}

/** Writes stored records in order, each record's data aligned to `alignment` bytes. */
export class ZipWriter {
  private readonly written: WrittenEntry[] = [];
  private position = 0;

  constructor(
    private readonly fd: number,
    private readonly alignment = 64,
  ) {}

  add(name: string, data: Uint8Array): void {
    const nameBytes = new TextEncoder().encode(name);
    const size = data.length;
    const crc = crc32(data) >>> 0;
    const big = size >= U32_MAX || this.position >= U32_MAX;
    const zip64Len = big ? 4 + 16 : 0;
    const unpadded = this.position + 30 + nameBytes.length + zip64Len + 4;
    const pad = (this.alignment - (unpadded % this.alignment)) % this.alignment;
    const header = new DataView(new ArrayBuffer(30 + nameBytes.length + zip64Len + 4 + pad));
    header.setUint32(0, LOCAL_SIG, true);
    header.setUint16(4, big ? 45 : 20, true);
    header.setUint16(6, UTF8_FLAG, true);
    header.setUint32(14, crc, true);
    header.setUint32(18, big ? U32_MAX : size, true);
    header.setUint32(22, big ? U32_MAX : size, true);
    header.setUint16(26, nameBytes.length, true);
    header.setUint16(28, zip64Len + 4 + pad, true);
    new Uint8Array(header.buffer).set(nameBytes, 30);
    let q = 30 + nameBytes.length;
    if (big) {
      header.setUint16(q, ZIP64_EXTRA, true);
      header.setUint16(q + 2, 16, true);
      header.setBigUint64(q + 4, BigInt(size), true);
      header.setBigUint64(q + 12, BigInt(size), true);
      q += zip64Len;
    }
    header.setUint16(q, PAD_EXTRA, true);
    header.setUint16(q + 2, pad, true);
    new Uint8Array(header.buffer, q + 4, pad).fill(0x5a); // "Z", as PyTorch pads
    this.written.push({ name: nameBytes, offset: this.position, size, crc });
    writeFully(this.fd, new Uint8Array(header.buffer));
    writeFully(this.fd, data);
    this.position += header.byteLength + size;
  }

  /** Writes the central directory and end records. */
  finish(): void {
    const dirOffset = this.position;
    const parts: Uint8Array[] = [];
    for (const e of this.written) {
      const big = e.size >= U32_MAX || e.offset >= U32_MAX;
      const extraLen = big ? 4 + 24 : 0;
      const h = new DataView(new ArrayBuffer(46 + e.name.length + extraLen));
      h.setUint32(0, CENTRAL_SIG, true);
      h.setUint16(4, big ? 45 : 20, true);
      h.setUint16(6, big ? 45 : 20, true);
      h.setUint16(8, UTF8_FLAG, true);
      h.setUint32(16, e.crc, true);
      h.setUint32(20, big ? U32_MAX : e.size, true);
      h.setUint32(24, big ? U32_MAX : e.size, true);
      h.setUint16(28, e.name.length, true);
      h.setUint16(30, extraLen, true);
      h.setUint32(42, big ? U32_MAX : e.offset, true);
      new Uint8Array(h.buffer).set(e.name, 46);
      if (big) {
        const q = 46 + e.name.length;
        h.setUint16(q, ZIP64_EXTRA, true);
        h.setUint16(q + 2, 24, true);
        h.setBigUint64(q + 4, BigInt(e.size), true);
        h.setBigUint64(q + 12, BigInt(e.size), true);
        h.setBigUint64(q + 20, BigInt(e.offset), true);
      }
      parts.push(new Uint8Array(h.buffer));
    }
    const dirSize = parts.reduce((n, p) => n + p.length, 0);
    const count = this.written.length;
    const big = count >= 0xffff || dirOffset >= U32_MAX || dirSize >= U32_MAX;
    if (big) {
      const rec = new DataView(new ArrayBuffer(56 + 20));
      rec.setUint32(0, EOCD64_SIG, true);
      rec.setBigUint64(4, 44n, true);
      rec.setUint16(12, 45, true);
      rec.setUint16(14, 45, true);
      rec.setBigUint64(24, BigInt(count), true);
      rec.setBigUint64(32, BigInt(count), true);
      rec.setBigUint64(40, BigInt(dirSize), true);
      rec.setBigUint64(48, BigInt(dirOffset), true);
      rec.setUint32(56, EOCD64_LOCATOR_SIG, true);
      rec.setBigUint64(64, BigInt(dirOffset + dirSize), true);
      rec.setUint32(72, 1, true);
      parts.push(new Uint8Array(rec.buffer));
    }
    const end = new DataView(new ArrayBuffer(22));
    end.setUint32(0, EOCD_SIG, true);
    end.setUint16(8, big ? 0xffff : count, true);
    end.setUint16(10, big ? 0xffff : count, true);
    end.setUint32(12, big ? U32_MAX : dirSize, true);
    end.setUint32(16, big ? U32_MAX : dirOffset, true);
    parts.push(new Uint8Array(end.buffer));
    for (const p of parts) writeFully(this.fd, p);
  }
}
