// torch.save in PyTorch's zip format, readable by Python's torch.load (weights_only=True too):
// <archive>/data.pkl (protocol-2 pickle; tensors as torch._utils._rebuild_tensor_v2 over persistent
// storage ids), .format_version, .storage_alignment, byteorder, data/<key> (one record per storage,
// 64-byte aligned), version, .data/serialization_id. Tensors that view one storage write it once
// and share memory again after loading, in Python as in tessera. Values map to Python as described
// in pickle_write.ts (an integral JS number becomes a Python int, any other a float).
import path from "node:path";
import { randomInt } from "node:crypto";
import { native } from "../_native.js";
import { Tensor } from "../tensor.js";
import type { dtype } from "../dtype.js";
import { writeAtomically } from "./atomic.js";
import { PyGlobal, PyPersistent, PyReduce, PyTuple, pickle } from "./pickle_write.js";
import { storageClassOf } from "./dtypes.js";
import { storageBytes } from "./storage.js";
import { ZipWriter } from "./zip.js";

const STORAGE_ALIGNMENT = 64;
const REBUILD_TENSOR = new PyGlobal("torch._utils", "_rebuild_tensor_v2");
const ORDERED_DICT = new PyGlobal("collections", "OrderedDict");

interface SavedStorage {
  key: string;
  dtype: dtype;
  tensor: Tensor;
}

function location(t: Tensor): string {
  const d = t.device;
  return d.type === "cuda" ? `cuda:${d.index ?? 0}` : String(d);
}

/** torch.save(obj, f): writes `obj` (tensors, containers, plain values) to the file `f`. */
export function save(obj: unknown, f: string): void {
  // Keyed by libtorch's storage identity; holding the tensor keeps that identity from being reused.
  const storages = new Map<string, SavedStorage>();
  const reduce = (v: object): PyReduce | undefined => {
    if (!(v instanceof Tensor)) return undefined;
    const [id, nbytes] = native.storageInfo(v);
    const storageClass = storageClassOf.get(v.dtype);
    if (storageClass === undefined) throw new TypeError(`torch.save: ${f}: tensors of dtype ${v.dtype} are not supported`);
    let s = storages.get(id);
    if (s === undefined) {
      s = { key: String(storages.size), dtype: v.dtype, tensor: v };
      storages.set(id, s);
    } else if (s.dtype !== v.dtype) {
      throw new TypeError(`torch.save: ${f}: Cannot save multiple tensors or storages that view the same data as different types`);
    }
    const numel = Math.floor(nbytes / v.dtype.itemsize);
    const pid = new PyTuple(["storage", new PyGlobal("torch", storageClass), s.key, location(v), numel]);
    return new PyReduce(REBUILD_TENSOR, [
      new PyPersistent(pid),
      v.storage_offset(),
      new PyTuple(v.shape),
      new PyTuple(v.stride()),
      v.requires_grad,
      new PyReduce(ORDERED_DICT, []),
    ]);
  };
  const data = pickle(obj, { reduce });
  const archive = path.basename(f).replace(/\.[^.]*$/, "") || "archive";
  const text = (s: string) => new TextEncoder().encode(s);
  writeAtomically(f, (fd) => {
    const zip = new ZipWriter(fd, STORAGE_ALIGNMENT);
    zip.add(`${archive}/data.pkl`, data);
    zip.add(`${archive}/.format_version`, text("1"));
    zip.add(`${archive}/.storage_alignment`, text(String(STORAGE_ALIGNMENT)));
    zip.add(`${archive}/byteorder`, text("little"));
    for (const s of storages.values()) zip.add(`${archive}/data/${s.key}`, storageBytes(s.tensor));
    zip.add(`${archive}/version`, text("3\n"));
    zip.add(`${archive}/.data/serialization_id`, text(Array.from({ length: 40 }, () => randomInt(10)).join("")));
    zip.finish();
  });
}
