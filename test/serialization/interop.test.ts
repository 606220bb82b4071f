// torch.save/torch.load and safetensors against Python: tessera writes files, ONE Python process
// reads them (reporting values and aliasing) and writes its own, then tessera reads Python's.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { torch } from "../../src/index.js";
import type { Tensor } from "../../src/torch/tensor.js";
import type { dtype } from "../../src/torch/dtype.js";
import { load, save } from "../../src/torch/serialization/index.js";
import { load_file, safe_open, save_file, load_torch_state_dict, save_torch_state_dict } from "../../src/safetensors.js";
import { runPython } from "../helpers/oracle.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "tessera-ser-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

const DTYPES = ["float32", "float16", "bfloat16", "float64", "int64", "int32", "int16", "int8", "uint8", "bool"] as const;
const dt = (name: string) => (torch as unknown as Record<string, dtype>)[name];

// The same values in both languages: arange(12)*0.37-1 (floats), arange(12)-4 (ints), %3==0 (bool).
function sample(name: string): Tensor {
  const a = torch.arange(12, { dtype: torch.float64 });
  if (name === "bool") return a.remainder(3).eq(0).reshape(3, 4);
  if (name.startsWith("float") || name === "bfloat16") return a.mul(0.37).sub(1).to(dt(name)).reshape(3, 4);
  return a
    .sub(name === "uint8" ? 0 : 4)
    .to(dt(name))
    .reshape(3, 4);
}
const PY_SAMPLE = String.raw`
def sample(name):
    a = torch.arange(12, dtype=torch.float64)
    if name == "bool": return (a.remainder(3) == 0).reshape(3, 4)
    if name.startswith("float") or name == "bfloat16": return (a * 0.37 - 1).to(getattr(torch, name)).reshape(3, 4)
    return (a - (0 if name == "uint8" else 4)).to(getattr(torch, name)).reshape(3, 4)
`;

function sameStorage(a: Tensor, b: Tensor): boolean {
  return torch._C.storageInfo(a)[0] === torch._C.storageInfo(b)[0];
}

function assertEqualTensor(actual: unknown, expected: Tensor, msg: string): void {
  assert.ok(actual instanceof torch.Tensor, `${msg}: not a tensor`);
  assert.equal(actual.dtype, expected.dtype, `${msg}: dtype`);
  assert.deepEqual(actual.shape, expected.shape, `${msg}: shape`);
  assert.ok(actual.eq(expected).all().item(), `${msg}: values differ:\n${actual}\n${expected}`);
}

// ---- tessera writes ------------------------------------------------------------------------
const base = torch.arange(24, { dtype: torch.float32 }).reshape(4, 6);
const jsObj = {
  dtypes: Object.fromEntries(DTYPES.map((n) => [n, sample(n)])),
  base,
  row: base.index([1]),
  transposed: base.t(),
  strided: base.index([torch.Slice(null, null, 2), torch.Slice(1, 5, 3)]),
  nested: { list: [base.index([0]), [1, 2.5, "s"]], deep: { flag: false, none: null, big: 2n ** 70n, neg: -300000 } },
  epoch: 7,
  lr: 0.001,
  name: "tessera",
  ok: true,
};
save(jsObj, path.join(dir, "js.pt"));
save_file(Object.fromEntries(DTYPES.map((n) => [`t.${n}`, sample(n)])), path.join(dir, "js.safetensors"), { format: "pt", who: "tessera" });
const shardedDict = Object.fromEntries(
  Array.from({ length: 5 }, (_, i) => [`layer${i}.weight`, torch.arange(250, { dtype: torch.float32 }).add(i)]),
);
const jsSplit = save_torch_state_dict(shardedDict, dir, { max_shard_size: 2500, filename_pattern: "js{suffix}.safetensors" });

const py = runPython(
  PY_SAMPLE +
    String.raw`
import collections, json, os
from safetensors.torch import load_file, save_file
from huggingface_hub import split_torch_state_dict_into_shards
D = d
# -- read tessera's files
j = torch.load(os.path.join(D, "js.pt"))  # weights_only=True is the default
out["js_dtypes_ok"] = all(j["dtypes"][n].dtype == getattr(torch, n) and torch.equal(j["dtypes"][n], sample(n)) for n in names)
base = j["base"]
out["js_alias"] = [t.untyped_storage().data_ptr() == base.untyped_storage().data_ptr() for t in (j["row"], j["transposed"], j["strided"], j["nested"]["list"][0])]
out["js_meta"] = [list(j["transposed"].stride()), j["strided"].storage_offset(), list(j["strided"].stride()), j["row"].storage_offset()]
out["js_values"] = [torch.equal(j["transposed"], torch.arange(24.).reshape(4, 6).t()), torch.equal(j["strided"], torch.arange(24.).reshape(4, 6)[::2, 1:5:3])]
base.add_(1)
out["js_alias_writes"] = bool(j["row"][0] == 7.0)
n = j["nested"]
out["js_scalars"] = [n["list"][1], n["deep"]["flag"], n["deep"]["none"] is None, n["deep"]["big"] == 2**70, n["deep"]["neg"], j["epoch"], type(j["epoch"]).__name__, j["lr"], j["name"], j["ok"]]
s = load_file(os.path.join(D, "js.safetensors"))
out["js_st_ok"] = all(torch.equal(s["t." + n], sample(n)) and s["t." + n].dtype == getattr(torch, n) for n in names)
from safetensors import safe_open
with safe_open(os.path.join(D, "js.safetensors"), "pt") as f: out["js_st_meta"] = f.metadata()
idx = json.load(open(os.path.join(D, "js.safetensors.index.json")))
sd = {}
for name, shard in idx["weight_map"].items(): sd[name] = load_file(os.path.join(D, shard))[name]
out["js_sharded_ok"] = [sorted(set(idx["weight_map"].values())), idx["metadata"]["total_size"], all(torch.equal(sd[f"layer{i}.weight"], torch.arange(250.) + i) for i in range(5))]
# -- write Python's files
a = torch.arange(24, dtype=torch.float32).reshape(4, 6)
model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3), torch.nn.Linear(3, 2))
torch.manual_seed(0)
for p in model.parameters(): torch.nn.init.normal_(p)
obj = {
    "dtypes": {n: sample(n) for n in names},
    "base": a, "row": a[1], "transposed": a.t(), "strided": a[::2, 1:5:3],
    "nested": collections.OrderedDict(tup=(1, 2.5, "s"), lst=[a[0], None, True], ints={0: "zero", 1: "one"}),
    "epoch": 3, "lr": 0.5, "big": 2**70, "model": model.state_dict(),
    "param": torch.nn.Parameter(torch.ones(2)),
}
torch.save(obj, os.path.join(D, "py.pt"), _use_new_zipfile_serialization=True)
out["model"] = {k: v for k, v in model.state_dict().items()}
save_file({"t." + n: sample(n) for n in names}, os.path.join(D, "py.safetensors"), metadata={"format": "pt", "who": "python"})
state = {f"w{i}": torch.arange(100, dtype=torch.float32) * i for i in range(6)}
split = split_torch_state_dict_into_shards(state, filename_pattern="py{suffix}.safetensors", max_shard_size=900)
for fname, names_ in split.filename_to_tensors.items(): save_file({k: state[k] for k in names_}, os.path.join(D, fname), metadata={"format": "pt"})
json.dump({"metadata": split.metadata, "weight_map": split.tensor_to_filename}, open(os.path.join(D, "py.safetensors.index.json"), "w"))
out["py_shards"] = sorted(split.filename_to_tensors)
`,
  { d: dir, names: [...DTYPES] },
);

test("a file saved by tessera loads in Python: every dtype, aliasing views, strides, containers, scalars", () => {
  assert.equal(py.js_dtypes_ok, true);
  assert.deepEqual(py.js_alias, [true, true, true, true]);
  assert.deepEqual(py.js_meta, [[1, 6], 1, [12, 3], 6]);
  assert.deepEqual(py.js_values, [true, true]);
  assert.equal(py.js_alias_writes, true, "views still share memory in Python");
  assert.deepEqual(py.js_scalars, [[1, 2.5, "s"], false, true, true, -300000, 7, "int", 0.001, "tessera", true]);
});

test("safetensors and a sharded checkpoint written by tessera load in Python", () => {
  assert.equal(py.js_st_ok, true);
  assert.deepEqual(py.js_st_meta, { format: "pt", who: "tessera" });
  assert.deepEqual(py.js_sharded_ok, [
    ["js-00001-of-00003.safetensors", "js-00002-of-00003.safetensors", "js-00003-of-00003.safetensors"],
    5000,
    true,
  ]);
  assert.equal(jsSplit.is_sharded, true);
});

test("a file saved by Python loads in tessera, views still sharing storage", () => {
  const r = load(path.join(dir, "py.pt")) as Record<string, any>;
  for (const n of DTYPES) assertEqualTensor(r.dtypes[n], sample(n), n);
  const a = torch.arange(24, { dtype: torch.float32 }).reshape(4, 6);
  assertEqualTensor(r.transposed, a.t(), "transposed");
  assert.deepEqual(r.transposed.stride(), [1, 6]);
  assertEqualTensor(r.strided, a.index([torch.Slice(null, null, 2), torch.Slice(1, 5, 3)]), "strided");
  for (const k of ["row", "transposed", "strided"]) assert.ok(sameStorage(r.base, r[k]), `${k} aliases base`);
  assert.ok(sameStorage(r.base, r.nested.lst[0]));
  r.base.add_(1);
  assert.equal(r.row.index([0]).item(), 7, "a write through base shows in the row view");
  assert.deepEqual(r.nested.tup, [1, 2.5, "s"]);
  assert.deepEqual(r.nested.lst.slice(1), [null, true]);
  assert.ok(r.nested.ints instanceof Map, "int-keyed dicts load as Map");
  assert.deepEqual(
    [...r.nested.ints],
    [
      [0, "zero"],
      [1, "one"],
    ],
  );
  assert.deepEqual([r.epoch, r.lr, r.big], [3, 0.5, 2n ** 70n]);
  assert.equal(r.param.requires_grad, true);
  assert.deepEqual(Object.keys(r.model), Object.keys(py.model as object));
  for (const [k, v] of Object.entries(py.model as Record<string, Tensor>)) assertEqualTensor(r.model[k], v, k);
});

test("safetensors and a sharded checkpoint written by Python load in tessera", () => {
  const s = load_file(path.join(dir, "py.safetensors"));
  for (const n of DTYPES) assertEqualTensor(s[`t.${n}`], sample(n), n);
  const f = safe_open(path.join(dir, "py.safetensors"), "pt");
  assert.deepEqual(f.metadata(), { format: "pt", who: "python" });
  assertEqualTensor(f.get_tensor("t.int16"), sample("int16"), "safe_open");
  f.close();
  const shards = readdirSync(dir).filter((x) => x.startsWith("py-"));
  assert.deepEqual(shards.sort(), py.py_shards);
  assert.ok(shards.length > 1);
  const sd = load_torch_state_dict(path.join(dir, "py.safetensors.index.json"));
  assert.deepEqual(Object.keys(sd).sort(), ["w0", "w1", "w2", "w3", "w4", "w5"]);
  for (let i = 0; i < 6; i++) assertEqualTensor(sd[`w${i}`], torch.arange(100, { dtype: torch.float32 }).mul(i), `w${i}`);
});

test("tessera round trip keeps sharing, sizes and the zip layout PyTorch writes", () => {
  const r = load(path.join(dir, "js.pt")) as typeof jsObj;
  assert.ok(sameStorage(r.base, r.transposed) && sameStorage(r.base, r.strided));
  assert.deepEqual([r.epoch, r.lr, r.name, r.ok, r.nested.deep.big], [7, 0.001, "tessera", true, 2n ** 70n]);
  const bytes = readFileSync(path.join(dir, "js.pt"));
  // Each record's data starts 64-byte aligned: find "js/data/0" and its local header.
  const at = bytes.indexOf("js/data/0");
  const extra = bytes.readUInt16LE(at - 2);
  assert.equal((at + "js/data/0".length + extra) % 64, 0);
  const loaded = load_torch_state_dict(dir.concat("/js.safetensors.index.json"));
  assert.deepEqual(Object.keys(loaded), Object.keys(shardedDict));
});
