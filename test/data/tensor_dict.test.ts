// A dict of equal-length tensors is a dataset of rows for the DataLoader (the `.pt` a data step
// saves), against Python's DataLoader over the same rows; TensorDictDataset's errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { torch } from "../../src/index.js";
import type { Tensor } from "../../src/torch/tensor.js";
import { assertClose, runPython } from "../helpers/oracle.js";

const { DataLoader, TensorDictDataset } = torch.utils.data;

test("DataLoader over a saved dict of tensors gives Python's batches over its rows (shuffled, seeded)", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "tessera-tdict-"));
  try {
    const file = path.join(dir, "data.pt");
    torch.save({ input_ids: torch.arange(14).view(7, 2), labels: torch.arange(7).mul(10) }, file);
    const py = runPython(`
d = torch.load(${JSON.stringify(file)})
rows = [{k: v[i] for k, v in d.items()} for i in range(len(d["labels"]))]
dl = torch.utils.data.DataLoader(rows, batch_size=3, shuffle=True, generator=torch.Generator().manual_seed(4))
out["batches"] = [[b["input_ids"], b["labels"]] for b in dl]
`);
    const data = torch.load(file) as { input_ids: Tensor; labels: Tensor };
    const loader = new DataLoader(data, { batch_size: 3, shuffle: true, generator: new torch.Generator().manual_seed(4) });
    const batches = [...loader];
    const expected = py.batches as Tensor[][];
    assert.equal(batches.length, expected.length);
    batches.forEach((b, i) => {
      // Typed rows: the batch has the dict's keys, each a collated tensor.
      assertClose(b.input_ids, expected[i][0]);
      assertClose(b.labels, expected[i][1]);
      assert.equal(b.input_ids.dtype, torch.int64);
    });
    assert.equal(loader.len(), 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a dict whose tensors differ in length, hold a non-tensor, or is empty is a clear error", () => {
  assert.throws(
    () => new DataLoader({ a: torch.zeros(3), b: torch.zeros(4) }),
    /DataLoader: size mismatch between tensors: 'a' has 3 rows, 'b' has 4/,
  );
  assert.throws(
    () => new DataLoader({ a: torch.zeros(3), b: [1, 2, 3] } as never),
    /DataLoader: every value must be a tensor with a first dimension, but 'b' is Array/,
  );
  assert.throws(
    () => new TensorDictDataset({ a: torch.tensor(1) }),
    /TensorDictDataset: every value must be a tensor with a first dimension, but 'a' is Tensor/,
  );
  assert.throws(() => new TensorDictDataset({}), /TensorDictDataset: expected a dict of at least one tensor, got an empty object/);
  const ds = new TensorDictDataset({ x: torch.arange(4), y: torch.arange(4).mul(2) });
  assert.equal(ds.len(), 4);
  assert.deepEqual(Object.fromEntries(Object.entries(ds.getitem(-1)).map(([k, v]) => [k, v.item()])), { x: 3, y: 6 });
});
