// Copies of a tensor: structuredClone and the serializer behind postMessage throw a clear error
// instead of returning an alias of the handle; a spread or Object.assign copy carries no handle, so
// ops refuse it; tensor.clone() makes a real copy whose writes leave the original alone.
import { test } from "node:test";
import assert from "node:assert/strict";
import v8 from "node:v8";
import { MessageChannel } from "node:worker_threads";
import { torch } from "../../src/index.js";

test("structuredClone, v8.serialize and postMessage of a tensor throw, naming what to do", () => {
  const t = torch.tensor([1.0, 2.0, 3.0]);
  const why = /a tessera Tensor cannot be structured-cloned or serialized .* copy it with tensor\.clone\(\)/;
  assert.throws(
    () => structuredClone(t),
    (e: Error) => e.name === "DataCloneError" && why.test(e.message),
  );
  assert.throws(() => structuredClone({ batch: [t] }), why, "inside a container too");
  assert.throws(() => structuredClone(new torch.nn.Parameter(t)), why);
  assert.throws(() => v8.serialize(t), why);
  const { port1, port2 } = new MessageChannel();
  try {
    assert.throws(() => port1.postMessage(t), why);
  } finally {
    port1.close();
    port2.close();
  }
  assert.deepEqual(t.tolist(), [1, 2, 3], "the original is untouched");
});

test("tensor.clone() is a real copy: writes to it leave the original alone", () => {
  const t = torch.tensor([1.0, 2.0, 3.0]);
  const c = t.clone();
  c.mul_(10);
  assert.deepEqual(t.tolist(), [1, 2, 3]);
  assert.deepEqual(c.tolist(), [10, 20, 30]);
  // What structuredClone users want for a batch of tensors: clone each one.
  const batch = { x: t, y: [t.add(1)] };
  const copy = { x: batch.x.clone(), y: batch.y.map((v) => v.clone()) };
  copy.x.zero_();
  assert.deepEqual(batch.x.tolist(), [1, 2, 3]);
});

test("{ ...t } and Object.assign({}, t) carry no handle: ops refuse them instead of writing to the original", () => {
  const t = torch.tensor([1.0, 2.0, 3.0]);
  for (const copy of [{ ...t }, Object.assign({}, t)] as unknown as torch.Tensor[]) {
    assert.equal((copy as unknown as { _h?: unknown })._h, undefined);
    assert.throws(() => torch.mul(copy, 10), TypeError);
    assert.throws(() => torch.add(t, copy), TypeError);
    assert.throws(() => t.copy_(copy), TypeError);
  }
  assert.deepEqual(t.tolist(), [1, 2, 3]);
  assert.deepEqual(Object.keys(t), ["_noClone"], "the handle is not enumerable");
});
