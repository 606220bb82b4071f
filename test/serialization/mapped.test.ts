// safetensors tensors are views of a private mapping of the file (as HF's): writing to a loaded
// tensor never reaches the file, a save over the file (a new file renamed in place) leaves tensors
// already loaded as they were, and a file whose data is not aligned for its dtype is read instead.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { torch } from "../../src/index.js";
import { load_file, safe_open, save_file } from "../../src/torch/serialization/index.js";

test("a loaded tensor is copy-on-write over the file, and survives a save over that file", (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), "tessera-mapped-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "w.safetensors");
  save_file({ w: torch.arange(6, { dtype: torch.float32 }).reshape(2, 3), n: torch.tensor([7, 8], { dtype: torch.int64 }) }, file);
  const first = load_file(file);
  first.w.mul_(10);
  assert.deepEqual(first.w.tolist(), [
    [0, 10, 20],
    [30, 40, 50],
  ]);
  assert.deepEqual(
    load_file(file).w.tolist(),
    [
      [0, 1, 2],
      [3, 4, 5],
    ],
    "the file is unchanged",
  );
  save_file({ w: torch.full([2, 3], -1), n: torch.tensor([0, 0], { dtype: torch.int64 }) }, file);
  assert.deepEqual(first.w.tolist(), [
    [0, 10, 20],
    [30, 40, 50],
  ]);
  assert.deepEqual(first.n.tolist(), [7, 8]);
  assert.deepEqual(load_file(file).n.tolist(), [0, 0]);
});

test("data not aligned for its dtype is read into memory with the right values", (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), "tessera-mapped-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "odd.safetensors");
  // A 1-byte tensor first puts the float32 tensor at data offset 1: file offset 8 + 63 + 1 = 72 is
  // aligned only by chance, so the header is sized for an odd start (8 + header + 1 ≡ 1 mod 4).
  const body = { a: { dtype: "U8", shape: [1], data_offsets: [0, 1] }, b: { dtype: "F32", shape: [2], data_offsets: [1, 9] } };
  let header = JSON.stringify(body);
  while ((8 + header.length + 1) % 4 === 0) header += " ";
  const data = Buffer.alloc(9);
  data[0] = 5;
  data.writeFloatLE(1.5, 1);
  data.writeFloatLE(-2.25, 5);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  writeFileSync(file, Buffer.concat([len, Buffer.from(header), data]));
  const d = load_file(file);
  assert.deepEqual(d.a.tolist(), [5]);
  assert.deepEqual(d.b.tolist(), [1.5, -2.25]);
});

test("the file's mapping made inside a caller's scope serves later reads", (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), "tessera-mapped-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "two.safetensors");
  save_file({ a: torch.tensor([1.5]), b: torch.tensor([2.5]) }, file);
  const f = safe_open(file, "pt");
  try {
    assert.deepEqual(
      torch.scope(() => f.get_tensor("a").tolist()),
      [1.5],
    );
    assert.deepEqual(f.get_tensor("b").tolist(), [2.5]);
  } finally {
    f.close();
  }
});
