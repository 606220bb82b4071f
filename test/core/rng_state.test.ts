// torch.set_rng_state / Generator.set_state accept any uint8 state tensor, as Python's do, including
// a view into a larger storage (a checkpoint's tensors are views of one mapping of the file): the
// generator then draws what it drew after get_rng_state(). A view once crashed the process.
import { test } from "node:test";
import assert from "node:assert/strict";
import { torch } from "../../src/index.js";
import { load_file, save_file } from "../../src/torch/serialization/safetensors.js";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";

test("a state that is a view at an offset of a larger storage restores the generator", () => {
  torch.manual_seed(3);
  const state = torch.get_rng_state();
  const expected = torch.rand(5).tolist();
  const n = state.numel();
  const big = torch.cat([torch.full([13], 7, { dtype: torch.uint8 }), state, torch.zeros(9, { dtype: torch.uint8 })]);
  torch.set_rng_state(big.narrow(0, 13, n));
  assert.deepEqual(torch.rand(5).tolist(), expected);
  const g = new torch.Generator();
  g.set_state(big.narrow(0, 13, n));
  assert.deepEqual(torch.rand(5, { generator: g }).tolist(), expected);
});

test("a state read back from a safetensors file (a view of the mapped file) restores the generator", () => {
  torch.manual_seed(4);
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), "tessera-rng-")), "rng.safetensors");
  save_file({ a: torch.randn(100), "rng/cpu": torch.get_rng_state(), z: torch.ones(3) }, file);
  const expected = torch.rand(4).tolist();
  const loaded = load_file(file)["rng/cpu"];
  torch.set_rng_state(loaded);
  assert.deepEqual(torch.rand(4).tolist(), expected);
});
