// Truncated, corrupted and hostile .pt / .safetensors files: each load ends with a JS Error that
// names the file (or loads, when a flipped byte was in an unused spot), never a crash or hang, and
// a pickle naming os.system / builtins.eval runs nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { torch } from "../../src/index.js";
import { load, save, load_file, save_file } from "../../src/torch/serialization/index.js";
import { PyGlobal, PyPersistent, PyReduce, PyTuple, pickle } from "../../src/torch/serialization/pickle_write.js";
import { ZipWriter } from "../../src/torch/serialization/zip.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "tessera-bad-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

const good = path.join(dir, "good.pt");
const base = torch.arange(40, { dtype: torch.float32 }).reshape(5, 8);
save({ w: base, v: base.t(), b: torch.ones(3, { dtype: torch.bfloat16 }), n: [1, "x", null] }, good);
const goodSt = path.join(dir, "good.safetensors");
save_file(
  { a: torch.arange(10, { dtype: torch.float32 }), b: torch.ones(2, 3, { dtype: torch.int64 }), c: torch.zeros(4, { dtype: torch.bool }) },
  goodSt,
  { k: "v" },
);

/** Loads `bytes` from a file; returns "ok" or the error message, asserting it is an Error naming the file. */
function attempt(bytes: Uint8Array, name: string, loader: (f: string) => unknown): string {
  const f = path.join(dir, name);
  writeFileSync(f, bytes);
  try {
    loader(f);
    return "ok";
  } catch (e) {
    assert.ok(e instanceof Error, `${name}: threw a non-Error ${String(e)}`);
    assert.ok(e.message.includes(f), `${name}: message does not name the file: ${e.message}`);
    return e.message;
  } finally {
    rmSync(f, { force: true });
  }
}

function mutations(
  src: Uint8Array,
  loader: (f: string) => unknown,
  tag: string,
): { truncErrors: number; truncCases: number; flipErrors: number; flipCases: number } {
  let truncErrors = 0;
  let truncCases = 0;
  const step = Math.max(1, Math.floor(src.length / 120));
  for (let cut = 0; cut < src.length; cut += step) {
    truncCases++;
    if (attempt(src.subarray(0, cut), `${tag}-trunc-${cut}`, loader) !== "ok") truncErrors++;
  }
  let flipErrors = 0;
  let flipCases = 0;
  const fstep = Math.max(1, Math.floor(src.length / 150));
  for (let at = 0; at < src.length; at += fstep) {
    const m = src.slice();
    m[at] ^= 0xff;
    flipCases++;
    if (attempt(m, `${tag}-flip-${at}`, loader) !== "ok") flipErrors++;
  }
  return { truncErrors, truncCases, flipErrors, flipCases };
}

test("truncated or byte-flipped .pt files give clear errors", () => {
  const r = mutations(readFileSync(good), (f) => load(f), "pt");
  assert.equal(r.truncErrors, r.truncCases, "every truncation is an error");
  assert.ok(r.truncCases >= 100 && r.flipCases >= 140);
  // Flips in padding or ignored header fields may load; most hit checked data (CRC, pickle, directory).
  assert.ok(r.flipErrors > r.flipCases / 2, `only ${r.flipErrors}/${r.flipCases} flips were caught`);
});

test("truncated or byte-flipped .safetensors files give clear errors", () => {
  const r = mutations(readFileSync(goodSt), (f) => load_file(f), "st");
  assert.equal(r.truncErrors, r.truncCases, "every truncation is an error");
  assert.ok(r.truncCases >= 100 && r.flipCases >= 140);
});

function safetensorsWith(header: unknown, data: Uint8Array, lengthOverride?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

test("hostile safetensors headers are rejected with the problem named", () => {
  const data = new Uint8Array(16);
  const f32 = (shape: number[], offs: number[]) => ({ dtype: "F32", shape, data_offsets: offs });
  const cases: [string, Uint8Array, RegExp][] = [
    ["huge header length", safetensorsWith({}, data, 2n ** 60n), /header length .* exceeds/],
    ["header past end", safetensorsWith({ a: f32([4], [0, 16]) }, data, 10_000n), /exceeds the file size/],
    ["zero header", safetensorsWith("", data), /not valid JSON/],
    ["not json", safetensorsWith("{nope", data), /not valid JSON/],
    ["array header", safetensorsWith([1, 2], data), /not a JSON object/],
    ["bad dtype", safetensorsWith({ a: { dtype: "F128", shape: [4], data_offsets: [0, 16] } }, data), /unsupported dtype "F128"/],
    ["oversized shape", safetensorsWith({ a: f32([2 ** 40, 2 ** 40], [0, 16]) }, data), /needs|bad shape/],
    ["negative shape", safetensorsWith({ a: f32([-4], [0, 16]) }, data), /bad shape/],
    ["offset out of range", safetensorsWith({ a: f32([4], [2 ** 50, 2 ** 50 + 16]) }, data), /starts at data offset/],
    ["overlap", safetensorsWith({ a: f32([4], [0, 16]), b: f32([2], [8, 16]) }, data), /overlapping/],
    ["gap", safetensorsWith({ a: f32([2], [8, 16]) }, data), /starts at data offset 8/],
    ["size mismatch", safetensorsWith({ a: f32([3], [0, 16]) }, data), /hold 16 bytes .* needs 12/],
    ["reversed offsets", safetensorsWith({ a: f32([0], [16, 0]) }, data), /bad data_offsets/],
    ["trailing data", safetensorsWith({ a: f32([2], [0, 8]) }, data), /cover 8 bytes but the file holds 16/],
    ["bad metadata", safetensorsWith({ __metadata__: { k: 1 }, a: f32([4], [0, 16]) }, data), /__metadata__/],
    ["short file", new Uint8Array(5), /too short/],
    // Absurd shapes (issue 19, finding 9): refused from the header, before any data is read.
    [
      "100,000 dimensions",
      safetensorsWith({ a: f32(Array(100_000).fill(1), [0, 4]) }, data.subarray(0, 4)),
      /has 100000 dimensions, more than the 64/,
    ],
    ["65 dimensions", safetensorsWith({ a: f32(Array(65).fill(1), [0, 4]) }, data.subarray(0, 4)), /has 65 dimensions/],
    ["2^53 elements", safetensorsWith({ a: f32([2 ** 26, 2 ** 27], [0, 16]) }, data), /needs/],
    ["a dimension past 2^53", safetensorsWith({ a: f32([2 ** 60], [0, 16]) }, data), /bad shape/],
    ["fractional dimension", safetensorsWith({ a: f32([1.5], [0, 16]) }, data), /bad shape/],
  ];
  for (const [name, bytes, re] of cases) {
    const msg = attempt(bytes, `hostile-${name.replace(/ /g, "_")}.safetensors`, (f) => load_file(f));
    assert.match(msg, re, name);
  }
});

function torchZip(file: string, pkl: Uint8Array, records: Record<string, Uint8Array> = {}): void {
  const fd = openSync(file, "w");
  const zip = new ZipWriter(fd);
  zip.add("archive/data.pkl", pkl);
  for (const [k, v] of Object.entries(records)) zip.add(`archive/${k}`, v);
  zip.finish();
  closeSync(fd);
}

test("a pickle naming os.system, builtins.eval or subprocess.Popen runs nothing and names the global", () => {
  const marker = path.join(dir, "pwned");
  const cmd = `touch ${marker}`;
  const hostile: [PyGlobal, string][] = [
    [new PyGlobal("posix", "system"), "posix.system"],
    [new PyGlobal("os", "system"), "os.system"],
    [new PyGlobal("builtins", "eval"), "builtins.eval"],
    [new PyGlobal("builtins", "exec"), "builtins.exec"],
    [new PyGlobal("subprocess", "Popen"), "subprocess.Popen"],
  ];
  for (const [g, qualname] of hostile) {
    // What Python's pickle.dumps writes for a class whose __reduce__ returns (os.system, (cmd,)).
    const pkl = pickle({ state: new PyReduce(g, [cmd]) }, { reduce: () => undefined });
    const f = path.join(dir, `${qualname}.pt`);
    torchZip(f, pkl);
    assert.throws(
      () => load(f),
      (e: Error) => e.message.includes(qualname) && e.message.includes(f),
    );
  }
  assert.equal(existsSync(marker), false, "the marker file must not be created");
});

test("a pickle whose tensor view overruns its storage is rejected", () => {
  const tensorOf = (size: number[], stride: number[], offset: number) =>
    new PyReduce(new PyGlobal("torch._utils", "_rebuild_tensor_v2"), [
      new PyPersistent(new PyTuple(["storage", new PyGlobal("torch", "FloatStorage"), "0", "cpu", 4])),
      offset,
      new PyTuple(size),
      new PyTuple(stride),
      false,
      new PyReduce(new PyGlobal("collections", "OrderedDict"), []),
    ]);
  const record = { "data/0": new Uint8Array(16) };
  const cases: [unknown, RegExp][] = [
    [tensorOf([1000], [1], 0), /needs more than the storage's 4 elements/],
    [tensorOf([2], [1], 3), /needs more than/],
    [tensorOf([2], [1], -1), /storage offset -1/],
    [tensorOf([2, 2], [1], 0), /differ in length/],
    [tensorOf(Array(100_000).fill(1), Array(100_000).fill(1), 0), /a size of 100000 dimensions is more than the 64/],
    [tensorOf([2 ** 40, 2 ** 40], [2 ** 40, 1], 0), /needs more than/],
    [new PyReduce(new PyGlobal("torch._utils", "_rebuild_tensor_v2"), [1, 2]), /expected a storage/],
  ];
  for (const [i, [obj, re]] of cases.entries()) {
    const f = path.join(dir, `overrun${i}.pt`);
    torchZip(f, pickle(obj, { reduce: () => undefined }), record);
    assert.throws(
      () => load(f),
      (e: Error) => re.test(e.message) && e.message.includes(f),
    );
  }
  const f = path.join(dir, "badsize.pt");
  torchZip(f, pickle(tensorOf([2], [1], 0), { reduce: () => undefined }), { "data/0": new Uint8Array(12) });
  assert.throws(() => load(f), /has 12 bytes but its storage needs 16/);
});

test("weights_only=false and the legacy format are refused clearly; a good file still loads", () => {
  assert.throws(() => load(good, { weights_only: false }), /weights_only=false is not supported/);
  const legacy = path.join(dir, "legacy.pt");
  writeFileSync(legacy, pickle(1, { reduce: () => undefined }));
  assert.throws(() => load(legacy), /legacy .* format is not supported/);
  const r = load(good) as { w: { shape: number[] }; n: unknown[] };
  assert.deepEqual(r.w.shape, [5, 8]);
  assert.deepEqual(r.n, [1, "x", null]);
});
