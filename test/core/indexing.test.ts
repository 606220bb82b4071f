// t.index([...]) and t.index_put_([...], v) against Python's t[...] and t[...] = v.
import { test } from "node:test";
import assert from "node:assert/strict";
import { torch } from "../../src/index.js";
import type { Tensor } from "../../src/torch/tensor.js";
import type { IndexItem } from "../../src/torch/indexing.js";
import { assertClose, runPython } from "../helpers/oracle.js";

const t = torch.arange(60).view(3, 4, 5).to(torch.float32);
const mask = t.sum([1, 2]).gt(400);
const idx = torch.tensor([2n, 0n]);

const reads: [string, IndexItem[]][] = [
  ["t[1]", [1]],
  ["t[-1, 2]", [-1, 2]],
  ["t[1:3]", ["1:3"]],
  ["t[:, ::2]", [":", "::2"]],
  ["t[..., 1]", ["...", 1]],
  ["t[None, 0]", [null, 0]],
  ["t[[0, 2]]", [[0, 2]]],
  ["t[mask]", [mask]],
  ["t[idx, 1:]", [idx, "1:"]],
  ["t[:, [0, 1], [1, 2]]", [":", [0, 1], [1, 2]]],
  ["t[[0, 1], :, [1, 2]]", [[0, 1], ":", [1, 2]]],
  ["t[0, ..., None]", [0, "...", null]],
  ["t[1:, -2:, 1:4:2]", [torch.Slice(1), torch.Slice(-2), torch.Slice(1, 4, 2)]],
];

const writes: [string, (x: Tensor) => void][] = [
  ["x[mask] = 0", (x) => x.index_put_([mask], 0)],
  ["x[:, 1] = torch.arange(5.)", (x) => x.index_put_([":", 1], torch.arange(5).float())],
  [
    "x.index_put_((torch.tensor([0, 0]), torch.tensor(0), torch.tensor(0)), torch.tensor([1., 2.]), accumulate=True)",
    (x) => x.index_put_([[0, 0], 0, 0], torch.tensor([1, 2]), true),
  ],
  ["x[1:, :, -1] = -1", (x) => x.index_put_(["1:", ":", -1], -1)],
];

const PY = String.raw`
for e in reads:
    out[e] = eval(e)
for e in writes:
    x = t.clone()
    exec(e)
    out[e] = x
`;

const expected = runPython(PY, { t, mask, idx, reads: reads.map(([e]) => e), writes: writes.map(([e]) => e) });

for (const [expr, items] of reads) {
  test(`t.index(...) equals Python's ${expr}`, () => {
    assertClose(t.index(items), expected[expr] as Tensor, { rtol: 0, atol: 0 });
  });
}

for (const [expr, write] of writes) {
  test(`index_put_ equals Python's ${expr}`, () => {
    const x = t.clone();
    write(x);
    assertClose(x, expected[expr] as Tensor, { rtol: 0, atol: 0 });
  });
}

test("basic indexing returns views; advanced indexing copies", () => {
  const x = torch.zeros(2, 3);
  x.index([0, "1:"]).fill_(5);
  assert.deepEqual(x.tolist(), [
    [0, 5, 5],
    [0, 0, 0],
  ]);
  x.index([[1]]).fill_(9);
  assert.deepEqual(x.index([1]).tolist(), [0, 0, 0]);
});

test("indexing gradients flow back", () => {
  const x = torch.ones(3, 4, { requires_grad: true });
  x.index([[0, 0, 2], "1:3"])
    .sum()
    .backward();
  assert.deepEqual(x.grad!.tolist(), [
    [0, 2, 2, 0],
    [0, 0, 0, 0],
    [0, 1, 1, 0],
  ]);
});

test("bad indices are reported like Python", () => {
  assert.throws(() => t.index([3]), /index 3 is out of bounds for dimension 0 with size 3/);
  assert.throws(() => t.index([0, 0, 0, 0]), /too many indices for tensor of dimension 3/);
  assert.throws(() => t.index(["...", 0, "..."]), /an index can only have a single ellipsis/);
  assert.throws(() => t.index(["1:x"]), /invalid index '1:x'/);
  assert.throws(() => t.index([torch.tensor([5n])]), /index 5 is out of bounds for dimension 0 with size 3/);
});
