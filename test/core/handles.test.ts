// How tensors cross between JS and libtorch: each Tensor owns one slot of the addon's tensor
// table, and its handle (`_h`) is a number, so numbers and tensors must stay apart at every call.
import { test } from "node:test";
import assert from "node:assert/strict";
import { torch } from "../../src/index.js";
import { Tensor } from "../../src/torch/tensor.js";

test("a handle has one owner: a second Tensor on it is a TypeError", () => {
  const t = torch.ones(2);
  assert.throws(() => new Tensor(t._h), { name: "TypeError", message: /^Tensor\(h\): h must be a new tensor handle/ });
  assert.deepEqual(t.tolist(), [1, 1]);
});

test("numbers and tensors stay apart although handles are numbers", () => {
  const t = torch.tensor([10, 20, 30]);
  // A number argument is a number, whatever slot index it happens to equal.
  const h = t._h as unknown as number;
  assert.deepEqual(t.add(h).tolist(), [10 + h, 20 + h, 30 + h]);
  assert.deepEqual(torch.add(t, torch.tensor([1, 2, 3]), { alpha: 2 }).tolist(), [12, 24, 36]);
  // Ops whose lone result is a number return a number, not a tensor.
  assert.equal(torch.numel(t), 3);
  assert.equal(torch.size(torch.zeros(4, 5), 1), 5);
  // In-place ops and no-op conversions return the caller's own object, as Python's `is` sees it.
  assert.equal(t.add_(1), t);
  assert.equal(t.contiguous(), t);
  assert.deepEqual(t.tolist(), [11, 21, 31]);
  // Past the mask's 32 bits arguments still arrive: 40 varargs sizes.
  assert.equal(
    torch
      .ones(1)
      .view(...(Array(40).fill(1) as [number]))
      .dim(),
    40,
  );
});

test("a disposed tensor keeps its slot: later tensors never alias it", () => {
  const x = torch.ones(3);
  x.dispose();
  const others = Array.from({ length: 100 }, (_, i) => torch.full([1], i));
  assert.equal(x.is_disposed, true);
  assert.throws(() => x.sum(), /disposed Tensor/);
  assert.deepEqual(
    others.map((o) => o.item()),
    Array.from({ length: 100 }, (_, i) => i),
  );
});

test("temporaries stay valid while a native call that allocates (and collects) uses them", () => {
  // split() of a temporary: its Tensor object is garbage once its handle is read, and wrapping
  // 20,000 results runs collections inside the call; the slot must outlive the call regardless.
  for (let round = 0; round < 5; round++) {
    const parts = torch.arange(20_000).mul(2).split(1);
    assert.equal(parts.length, 20_000);
    assert.equal(parts[19_999].item(), 39_998);
    assert.equal(parts[round].item(), 2 * round);
  }
});
