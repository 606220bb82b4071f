// torch.load for PyTorch's zip format (torch.save since 1.6). Loading is always what PyTorch calls
// `weights_only=True`: the pickle may name only the globals below, so a hostile file gets an error
// naming the global it tried to use and nothing runs.
//
// Python → JS: dict/OrderedDict → plain object when every key is a str, else Map; list and tuple →
// Array; set → Set; int → number (bigint beyond 2^53); float → number; str, bool; None → null;
// bytes/bytearray → Uint8Array; torch.Size → number[]; torch.device → string; torch.dtype → dtype.
// Tensors viewing one storage share memory after loading, as in PyTorch. OrderedDict attributes
// (the `_metadata` of a state dict) are dropped.
import { closeSync, openSync, readSync } from "node:fs";
import { native } from "../_native.js";
import { Tensor } from "../tensor.js";
import { device, type DeviceLike } from "../device.js";
import {
  bfloat16,
  bool,
  complex128,
  complex64,
  float16,
  float32,
  float64,
  int16,
  int32,
  int64,
  int8,
  uint8,
  type dtype,
} from "../dtype.js";
import { ZipReader } from "./zip.js";
import { setOwn } from "./io.js";
import { PyCallable, PyDict, describe, latin1, unpickle } from "./pickle_read.js";
import { dtypeOfStorageClass } from "./dtypes.js";
import { readBytesTensor, tensorBytes, viewProblem, viewStorage } from "./storage.js";
import { NotImplementedError } from "../errors.js";
import { checkOptions } from "../_options.js";

/** `map_location`: one device for every storage, or a table from saved location to device. */
export type MapLocation = DeviceLike | Record<string, DeviceLike>;

export interface LoadOptions {
  map_location?: MapLocation | null;
  /** Only `true` (the default, as in PyTorch 2.6+) is supported: tessera never runs pickled code. */
  weights_only?: boolean;
}

/** A storage record as the pickle refers to it: its bytes (uint8) and the dtype it was saved as. */
class StorageRef {
  constructor(
    readonly bytes: Tensor,
    readonly dtype: dtype,
    readonly numel: number,
  ) {}
}

/** A legacy storage class such as torch.FloatStorage, as a pickle names it. */
class StorageType {
  constructor(readonly dtype: dtype) {}
}

const dtypesByName = new Map(
  [uint8, int8, int16, int32, int64, float16, float32, float64, complex64, complex128, bool, bfloat16].map((d) => [d.name, d]),
);

function isInt(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v);
}

function intList(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every(isInt)) throw new Error(`${what} must be a tuple of integers, got ${describe(v)}`);
  return v as number[];
}

function rebuildTensor(args: readonly unknown[]): Tensor {
  const [storage, offset, size, stride, requiresGrad] = args;
  if (!(storage instanceof StorageRef)) throw new Error(`_rebuild_tensor_v2: expected a storage, got ${describe(storage)}`);
  const sz = intList(size, "_rebuild_tensor_v2: size");
  const st = intList(stride, "_rebuild_tensor_v2: stride");
  const problem = viewProblem(storage.numel, offset as number, sz, st);
  if (problem !== null) throw new Error(`_rebuild_tensor_v2: ${problem}`);
  const t = viewStorage(storage.bytes, storage.dtype, offset as number, sz, st);
  if (requiresGrad === true) t.requires_grad_(true);
  return t;
}

function rebuildParameter(args: readonly unknown[]): Tensor {
  const [data, requiresGrad] = args;
  if (!(data instanceof Tensor) || typeof requiresGrad !== "boolean") throw new Error("_rebuild_parameter: expected (Tensor, bool, hooks)");
  return data.requires_grad_(requiresGrad);
}

function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw new Error("_codecs.encode: text is not latin-1");
    out[i] = c;
  }
  return out;
}

const callables: Record<string, (args: readonly unknown[]) => unknown> = {
  "collections.OrderedDict": (args) => {
    if (args.length) throw new Error("OrderedDict(...) with arguments is not supported");
    return new PyDict();
  },
  "torch._utils._rebuild_tensor_v2": rebuildTensor,
  "torch._utils._rebuild_tensor": rebuildTensor,
  "torch._utils._rebuild_parameter": rebuildParameter,
  "torch._utils._rebuild_parameter_with_state": rebuildParameter,
  "torch.Size": ([dims]) => intList(dims, "torch.Size"),
  "torch.device": ([type, index]) => {
    if (typeof type !== "string") throw new Error("torch.device: expected a string");
    return String(new device(type, isInt(index) ? index : undefined));
  },
  "builtins.set": ([items]) => new Set(Array.isArray(items) ? items : []),
  "builtins.bytearray": ([data]) => (data instanceof Uint8Array ? data : typeof data === "string" ? latin1Bytes(data) : new Uint8Array()),
  "_codecs.encode": ([text, encoding]) => {
    if (typeof text !== "string" || (encoding !== "latin1" && encoding !== "latin-1"))
      throw new Error("_codecs.encode: expected (str, 'latin1')");
    return latin1Bytes(text);
  },
};

function findGlobal(module: string, name: string): unknown {
  const qualname = `${module}.${name}`;
  const fn = callables[qualname];
  if (fn !== undefined) return new PyCallable(qualname, fn);
  if (module === "torch") {
    const storageDtype = dtypeOfStorageClass.get(name);
    if (storageDtype !== undefined) return new StorageType(storageDtype);
    const d = dtypesByName.get(name);
    if (d !== undefined) return d;
  }
  throw new Error(
    `unsupported global ${qualname}: loading allows only tensors, containers and plain values ` +
      "(like PyTorch's weights_only=True); the file was not loaded and nothing in it was run",
  );
}

function resolveDevice(location: string, map: MapLocation | null | undefined): string {
  let target: DeviceLike = location;
  if (typeof map === "string" || map instanceof device) target = map;
  else if (map) target = map[location] ?? location;
  const d = new device(target);
  if (d.type === "cuda" && !native.cudaIsAvailable()) {
    throw new Error(
      "Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is False. " +
        "If you are running on a CPU-only machine, please use torch.load with map_location='cpu' to map your storages to the CPU.",
    );
  }
  if (d.type !== "cpu" && d.type !== "cuda" && d.type !== "meta") throw new Error(`don't know how to restore data location ${String(d)}`);
  return String(d);
}

/** Converts the unpickled object graph to plain JS values (see the header); shared objects stay shared. */
function toJs(root: unknown): unknown {
  const done = new Map<object, unknown>();
  const convert = (v: unknown, depth: number): unknown => {
    if (v === null || typeof v !== "object" || v instanceof Tensor || v instanceof Uint8Array) return v;
    const seen = done.get(v);
    if (seen !== undefined) return seen;
    if (depth > 1000) throw new Error("object nesting is deeper than 1000 levels");
    if (v instanceof PyDict) {
      const stringKeys = [...v.items.keys()].every((k) => typeof k === "string");
      if (!stringKeys) {
        const m = new Map<unknown, unknown>();
        done.set(v, m);
        for (const [k, x] of v.items) m.set(k, convert(x, depth + 1));
        return m;
      }
      const o: Record<string, unknown> = {};
      done.set(v, o);
      for (const [k, x] of v.items) setOwn(o, k as string, convert(x, depth + 1));
      return o;
    }
    if (Array.isArray(v)) {
      const a: unknown[] = [];
      done.set(v, a);
      for (const x of v) a.push(convert(x, depth + 1));
      return a;
    }
    if (v instanceof Set) {
      const s = new Set<unknown>();
      done.set(v, s);
      for (const x of v) s.add(convert(x, depth + 1));
      return s;
    }
    if (v instanceof StorageRef || v instanceof StorageType)
      throw new Error("a bare storage object is not supported (save tensors instead)");
    return v;
  };
  return convert(root, 0);
}

function isLegacyFormat(file: string): boolean {
  const fd = openSync(file, "r");
  try {
    const head = new Uint8Array(2);
    readSync(fd, head, 0, 2, 0);
    return head[0] === 0x80; // a bare pickle: torch.save(..., _use_new_zipfile_serialization=False)
  } finally {
    closeSync(fd);
  }
}

function loadArchive(zip: ZipReader, map: MapLocation | null | undefined): unknown {
  const pkl = [...zip.entries.keys()].find((n) => n.endsWith("data.pkl") && n.split("/").length === 2);
  if (pkl === undefined) throw new Error("no <archive>/data.pkl record (not a torch.save file)");
  const prefix = pkl.slice(0, -"data.pkl".length);
  if (zip.entries.has(`${prefix}byteorder`)) {
    const order = latin1(zip.read(`${prefix}byteorder`));
    if (order !== "little") throw new Error(`saved with byte order '${order}'; only little-endian files are supported`);
  }
  const storages = new Map<string, StorageRef>();
  const persistentLoad = (pid: unknown): StorageRef => {
    if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== "storage") throw new Error(`unsupported persistent id ${describe(pid)}`);
    const [, type, key, location, numel] = pid;
    if (!(type instanceof StorageType) || typeof key !== "string" || typeof location !== "string" || !isInt(numel) || numel < 0) {
      throw new Error("malformed storage reference ('storage', type, key, location, numel)");
    }
    const seen = storages.get(key);
    if (seen !== undefined) {
      // One record viewed as another dtype: reinterpret the same bytes, as PyTorch's untyped storages do.
      return seen.dtype === type.dtype
        ? seen
        : new StorageRef(seen.bytes, type.dtype, Math.floor(seen.bytes.numel() / type.dtype.itemsize));
    }
    const name = `${prefix}data/${key}`;
    const entry = zip.entry(name);
    const nbytes = numel * type.dtype.itemsize;
    if (entry.size !== nbytes)
      throw new Error(`record ${name} has ${entry.size} bytes but its storage needs ${nbytes} (${numel} × ${type.dtype})`);
    const target = resolveDevice(location, map);
    let bytes = readBytesTensor(zip.fd, entry.dataOffset, nbytes, name);
    zip.checkCrc(name, tensorBytes(bytes));
    if (target !== "cpu") bytes = bytes.to(target);
    const ref = new StorageRef(bytes, type.dtype, numel);
    storages.set(key, ref);
    return ref;
  };
  return toJs(unpickle(zip.read(pkl), { findGlobal, persistentLoad }));
}

/**
 * torch.load(f, {map_location, weights_only}): reads a file written by `torch.save` (Python's or
 * tessera's). Errors name the file and the problem.
 */
export function load(f: string, options: LoadOptions = {}): unknown {
  checkOptions("load", options, { map_location: true, weights_only: true });
  if (options.weights_only === false) {
    throw new NotImplementedError("torch.load: weights_only=false is not supported; tessera never runs code from a pickle");
  }
  let zip: ZipReader;
  try {
    zip = new ZipReader(f);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === undefined && isLegacyFormat(f)) {
      throw new Error(
        `torch.load: ${f}: the legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it with a current PyTorch`,
      );
    }
    throw new Error(`torch.load: ${(e as Error).message}`, { cause: e });
  }
  try {
    return loadArchive(zip, options.map_location);
  } catch (e) {
    const msg = (e as Error).message;
    throw new Error(msg.startsWith(f) ? `torch.load: ${msg}` : `torch.load: ${f}: ${msg}`, { cause: e });
  } finally {
    zip.close();
  }
}
