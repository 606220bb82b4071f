// safetensors, mirroring Python's `safetensors.torch`: save_file, load_file, safe_open. Layout: an
// 8-byte little-endian header length N, N bytes of JSON ({name: {dtype, shape, data_offsets}},
// optional "__metadata__": {str: str}), then the tensor bytes. The header is checked as strictly as
// the Rust reference does (offsets contiguous, in range, sized to dtype × shape) before any data is
// read. Reading copies each tensor once, from the file straight into the new tensor's memory.
// Writing makes contiguous copies of non-contiguous tensors and writes shared storage once per name.
import { closeSync, fstatSync, openSync } from "node:fs";
import { Tensor } from "../tensor.js";
import { uint8, type dtype } from "../dtype.js";
import { escape } from "../memory.js";
import { from_file } from "../_generated/functions.js";
import { native } from "../_native.js";
import type { DeviceLike } from "../device.js";
import { writeAtomically } from "./atomic.js";
import { dtypeOfSafetensorsName, safetensorsNameOf } from "./dtypes.js";
import { MAX_DIMS, contiguousStrides, readBytesTensor, tensorBytes, viewStorage } from "./storage.js";
import { readFully, setOwn, writeFully } from "./io.js";
import { parseJson } from "./json.js";

// The Rust implementation refuses headers above 100 MB.
const MAX_HEADER = 100_000_000;

interface TensorInfo {
  dtype: dtype;
  shape: number[];
  begin: number;
  end: number;
}

export interface DeviceOption {
  device?: DeviceLike;
}

function deviceArg(device: DeviceLike | DeviceOption | undefined): string {
  const d = typeof device === "object" && !("type" in device) ? device.device : device;
  return d === undefined ? "cpu" : String(d);
}

function parseHeader(
  file: string,
  json: string,
  dataSize: number,
): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> | null } {
  const fail = (problem: string): never => {
    throw new Error(`safetensors: ${file}: invalid header: ${problem}`);
  };
  let raw: unknown;
  try {
    raw = parseJson(json);
  } catch (e) {
    fail(`not valid JSON (${(e as Error).message})`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) fail("not a JSON object");
  let metadata: Record<string, string> | null = null;
  const tensors = new Map<string, TensorInfo>();
  for (const [name, v] of Object.entries(raw as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (v === null || typeof v !== "object" || Array.isArray(v) || !Object.values(v).every((x) => typeof x === "string")) {
        fail("__metadata__ must map strings to strings");
      }
      // Handed to the caller as a plain dict (own data keys only, "__proto__" included, as Python's).
      metadata = Object.fromEntries(Object.entries(v as Record<string, string>));
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e === null || typeof e !== "object") fail(`entry ${JSON.stringify(name)} is not an object`);
    const dt = typeof e.dtype === "string" ? dtypeOfSafetensorsName.get(e.dtype) : undefined;
    if (dt === undefined) fail(`tensor ${JSON.stringify(name)} has unsupported dtype ${JSON.stringify(e.dtype)}`);
    const shape = e.shape;
    if (Array.isArray(shape) && shape.length > MAX_DIMS)
      fail(`tensor ${JSON.stringify(name)} has ${shape.length} dimensions, more than the ${MAX_DIMS} a tensor may have`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      fail(`tensor ${JSON.stringify(name)} has a bad shape ${JSON.stringify(shape)}`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0) || offs[0] > offs[1]) {
      fail(`tensor ${JSON.stringify(name)} has bad data_offsets ${JSON.stringify(offs)}`);
    }
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    const nbytes = numel * dt!.itemsize;
    const [begin, end] = offs as number[];
    if (!Number.isSafeInteger(nbytes) || end - begin !== nbytes) {
      fail(
        `tensor ${JSON.stringify(name)}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes but ${e.dtype} × ${JSON.stringify(shape)} needs ${nbytes}`,
      );
    }
    tensors.set(name, { dtype: dt!, shape: shape as number[], begin, end });
  }
  // Tensors must tile the data section exactly: no gaps, no overlaps, nothing past the end.
  let at = 0;
  for (const [name, t] of [...tensors].sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end)) {
    if (t.begin !== at)
      fail(`tensor ${JSON.stringify(name)} starts at data offset ${t.begin}, expected ${at} (overlapping or gapped offsets)`);
    at = t.end;
  }
  if (at !== dataSize) fail(`tensors cover ${at} bytes but the file holds ${dataSize} bytes of data (truncated or padded file)`);
  return { tensors, metadata };
}

/** An open safetensors file: `keys()`, `get_tensor(name)`, `metadata()`; call `close()` when done. */
export class SafeOpen {
  private readonly fd: number;
  private readonly dataStart: number;
  private readonly tensors: Map<string, TensorInfo>;
  private readonly meta: Record<string, string> | null;
  private readonly device: string;
  private readonly size: number;
  // The whole file as one private (copy-on-write) mapping, made at the first get_tensor: tensors
  // are views of it, each in a storage of its own (as HF's safetensors slices the mapped storage), so
  // loading reads each page once, when it is first used, and holds no second copy. Writing to a
  // tensor copies only the pages it touches.
  private mapped: Tensor | null = null;

  /**
   * `map: false` reads each tensor into memory of its own instead: for a reader that keeps only a
   * slice of each tensor (a ZeRO-3 rank), since the pages of a mapping it has read stay in its RSS
   * until the mapping goes.
   */
  constructor(
    readonly filename: string,
    device: string,
    private readonly options: { map?: boolean } = {},
  ) {
    this.device = device;
    this.fd = openSync(filename, "r");
    try {
      const size = fstatSync(this.fd).size;
      this.size = size;
      const fail = (problem: string): never => {
        throw new Error(`safetensors: ${filename}: ${problem}`);
      };
      if (size < 8) fail(`file too short (${size} bytes) for the 8-byte header length`);
      const lenBuf = new Uint8Array(8);
      readFully(this.fd, lenBuf, 0);
      const n = new DataView(lenBuf.buffer).getBigUint64(0, true);
      if (n > BigInt(MAX_HEADER)) fail(`header length ${n} exceeds the ${MAX_HEADER}-byte limit`);
      if (8n + n > BigInt(size)) fail(`header length ${n} exceeds the file size (${size} bytes; truncated?)`);
      const header = new Uint8Array(Number(n));
      readFully(this.fd, header, 8);
      let json: string;
      try {
        json = new TextDecoder("utf-8", { fatal: true }).decode(header);
      } catch {
        json = fail("header is not valid UTF-8");
      }
      this.dataStart = 8 + header.length;
      const parsed = parseHeader(filename, json, size - this.dataStart);
      this.tensors = parsed.tensors;
      this.meta = parsed.metadata;
    } catch (e) {
      closeSync(this.fd);
      throw e;
    }
  }

  keys(): string[] {
    return [...this.tensors.keys()];
  }

  metadata(): Record<string, string> | null {
    return this.meta;
  }

  get_tensor(name: string): Tensor {
    const info = this.tensors.get(name);
    if (info === undefined) throw new Error(`safetensors: ${this.filename}: no tensor named ${JSON.stringify(name)}`);
    const start = this.dataStart + info.begin;
    const strides = contiguousStrides(info.shape);
    let t: Tensor;
    if (this.options.map !== false && start % info.dtype.itemsize === 0) {
      if (this.mapped === null) {
        this.mapped = from_file(this.filename, false, this.size, { dtype: uint8 });
        escape(this.mapped); // this reader's, though a caller's scope may be open when it is made
      }
      t = viewStorage(native.storageView(this.mapped._h, start, info.end - info.begin), info.dtype, 0, info.shape, strides);
    } else {
      // A writer that did not align the data: a view would be misaligned, so read a copy.
      const bytes = readBytesTensor(this.fd, start, info.end - info.begin, `safetensors: ${this.filename}: tensor ${name}`);
      t = viewStorage(bytes, info.dtype, 0, info.shape, strides);
    }
    return this.device === "cpu" ? t : t.to(this.device);
  }

  close(): void {
    closeSync(this.fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** `safe_open(filename, framework="pt", {device})`: lazy, per-tensor access to a safetensors file. */
export function safe_open(filename: string, framework: "pt" = "pt", device: DeviceLike | DeviceOption = "cpu"): SafeOpen {
  if (framework !== "pt") throw new Error(`safe_open: framework ${JSON.stringify(framework)} is not supported (only "pt")`);
  return new SafeOpen(filename, deviceArg(device));
}

/** `load_file(filename, device="cpu")`: every tensor of a safetensors file. */
export function load_file(filename: string, device: DeviceLike | DeviceOption = "cpu"): Record<string, Tensor> {
  const f = new SafeOpen(filename, deviceArg(device));
  try {
    const out: Record<string, Tensor> = {};
    for (const k of f.keys()) setOwn(out, k, f.get_tensor(k));
    return out;
  } finally {
    f.close();
  }
}

/** `save_file(tensors, filename, metadata?)`: writes a safetensors file (atomically). */
export function save_file(tensors: Record<string, Tensor>, filename: string, metadata: Record<string, string> | null = null): void {
  const entries = Object.entries(tensors);
  for (const [name, t] of entries) {
    if (!(t instanceof Tensor)) throw new TypeError(`save_file: ${filename}: value of ${JSON.stringify(name)} is not a Tensor`);
    if (!safetensorsNameOf.has(t.dtype))
      throw new TypeError(`save_file: ${filename}: dtype ${t.dtype} of ${JSON.stringify(name)} is not supported`);
  }
  if (metadata !== null && !Object.values(metadata).every((v) => typeof v === "string")) {
    throw new TypeError(`save_file: ${filename}: metadata values must be strings`);
  }
  // Larger items first keeps every tensor aligned to its itemsize (as the Rust writer orders them).
  entries.sort(([an, a], [bn, b]) => b.dtype.itemsize - a.dtype.itemsize || (an < bn ? -1 : an > bn ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata !== null) setOwn(header, "__metadata__", metadata);
  let offset = 0;
  for (const [name, t] of entries) {
    const nbytes = t.numel() * t.dtype.itemsize;
    setOwn(header, name, { dtype: safetensorsNameOf.get(t.dtype), shape: t.shape, data_offsets: [offset, offset + nbytes] });
    offset += nbytes;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((Buffer.byteLength(json) + 8) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  writeAtomically(filename, (fd) => {
    writeFully(fd, len);
    writeFully(fd, headerBytes);
    for (const [, t] of entries) writeFully(fd, tensorBytes(t.contiguous()));
  });
}
