// torch.moreh alone (the torch layer, without the package entry `tessera`) has no runtime
// registered: the one line says where to import from instead of doing nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as torch from "../../src/torch/index.js";

test("enable_advanced_parallelization without the tessera entry throws a clear error", () => {
  assert.throws(() => torch.moreh.option.enable_advanced_parallelization(), /import torch from "tessera"/);
  assert.equal(torch.moreh.option.is_enabled_advanced_parallelization(), false);
  assert.equal(torch.moreh.applied_plan(), null);
});
