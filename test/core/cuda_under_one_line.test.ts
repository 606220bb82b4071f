// Under the one line the job is one virtual device and `.cuda()` names it: on a machine without
// CUDA, tensors and modules stay where they are (the CPU), so the seed's `.cuda()` calls run
// unchanged; without the one line, `.cuda()` is PyTorch's (an error where CUDA is missing).
import { test } from "node:test";
import assert from "node:assert/strict";
import { torch } from "../../src/index.js";

test(".cuda() is the job's device under Advanced Parallelization, PyTorch's otherwise", () => {
  const t = torch.tensor([1.0, 2.0]);
  if (torch.cuda.is_available()) {
    // With CUDA the job's device is the GPU: .cuda() moves there with or without the one line.
    torch.moreh.option.enable_advanced_parallelization();
    try {
      assert.equal(t.cuda().device.type, "cuda");
    } finally {
      torch.moreh.option.disable_advanced_parallelization();
    }
    return;
  }
  assert.throws(() => t.cuda(), /not linked with support for cuda devices|CUDA/);
  torch.moreh.option.enable_advanced_parallelization();
  try {
    assert.equal(t.cuda(), t);
    const lin = new torch.nn.Linear(2, 1);
    assert.equal(lin.cuda(), lin);
    assert.equal(lin.weight.device.type, "cpu");
    assert.deepEqual(lin(t.cuda()).shape, [1]);
  } finally {
    torch.moreh.option.disable_advanced_parallelization();
  }
  assert.throws(() => t.cuda(), /not linked with support for cuda devices|CUDA/);
});
