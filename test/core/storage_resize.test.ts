// _resize_storage_bytes_ (PyTorch's torch.ops.inductor.resize_storage_bytes_): freeing a flat
// tensor's storage and growing it back, as FSDP does with gathered parameters, is seen by every
// view, including one autograd saved for backward; pinned storages are refused; memory is freed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { torch } from "../../src/index.js";
import { _resize_storage_bytes_, _storage_nbytes } from "../../src/torch/_storage.js";
import { cpu_caching_allocator_stats, cpu_empty_cache } from "../../src/torch/cpu_memory.js";

test("views see the storage freed and refilled", () => {
  const flat = torch.arange(6, { dtype: torch.float32 });
  const a = flat.narrow(0, 0, 2);
  const b = flat.narrow(0, 2, 4).view([2, 2]);
  _resize_storage_bytes_(flat, 0);
  assert.equal(_storage_nbytes(flat), 0);
  assert.equal(_storage_nbytes(b), 0, "a view shares the storage");
  assert.deepEqual(b.shape, [2, 2], "sizes stay as they were");
  _resize_storage_bytes_(flat, 24);
  assert.equal(_storage_nbytes(a), 24);
  flat.copy_(torch.tensor([10, 11, 12, 13, 14, 15]));
  assert.deepEqual(a.tolist(), [10, 11]);
  assert.deepEqual(b.tolist(), [
    [12, 13],
    [14, 15],
  ]);
});

test("growing keeps the old bytes, shrinking keeps the prefix", () => {
  const flat = torch.arange(4, { dtype: torch.float64 });
  _resize_storage_bytes_(flat, 64);
  assert.deepEqual(flat.tolist(), [0, 1, 2, 3]);
  assert.deepEqual(flat.as_strided([8], [1]).narrow(0, 0, 4).tolist(), [0, 1, 2, 3]);
  _resize_storage_bytes_(flat, 16);
  assert.deepEqual(flat.as_strided([2], [1]).tolist(), [0, 1]);
});

test("a view saved for backward reads the refilled storage", () => {
  torch.manual_seed(0);
  const flat = torch.randn(6);
  // A leaf parameter that is a view of the flat buffer, as FSDP's unsharded parameters are.
  const w = flat.view([2, 3]).detach().requires_grad_();
  const x = torch.randn(4, 2, { requires_grad: true });
  const y = x.matmul(w); // mm saves w for x's gradient
  _resize_storage_bytes_(flat, 0);
  _resize_storage_bytes_(flat, 6 * 4);
  const refill = torch.tensor([1, 2, 3, 4, 5, 6]);
  // Through `.data`, as FSDP writes the all-gathered values: no version bump, so autograd's check
  // of saved tensors still passes.
  flat.data.copy_(refill);
  y.sum().backward();
  const expectedX = torch.ones(4, 3).matmul(refill.view([2, 3]).t());
  assert.ok(x.grad!.allclose(expectedX), `x.grad ${x.grad!.tolist()} vs ${expectedX.tolist()}`);
  assert.ok(w.grad!.allclose(x.detach().t().matmul(torch.ones(4, 3))));
});

test("a storage pinned by typed_array() is refused and left as it was", () => {
  const t = torch.arange(4, { dtype: torch.float32 });
  const view = t.typed_array();
  assert.throws(() => _resize_storage_bytes_(t, 0), /not resizable/);
  assert.equal(_storage_nbytes(t), 16);
  view[1] = 7;
  assert.deepEqual(t.tolist(), [0, 7, 2, 3]);
});

test("bad sizes are refused", () => {
  const t = torch.zeros(2);
  assert.throws(() => _resize_storage_bytes_(t, -1), RangeError);
  assert.throws(() => _resize_storage_bytes_(t, 1.5), RangeError);
  assert.equal(_storage_nbytes(t), 8);
});

// The caching CPU allocator keeps the freed block for the next gather of its size (as PyTorch's CUDA
// caching allocator does for FSDP); empty_cache gives it back to the system.
test("freeing returns the memory to the cache, and empty_cache to the system", () => {
  const mib = 1024 * 1024;
  const flat = torch.ones(64 * mib, { dtype: torch.float32 }); // 256 MiB, touched
  const view = flat.narrow(0, 1, 10);
  const before = process.memoryUsage().rss;
  const cached = cpu_caching_allocator_stats().cached_bytes;
  _resize_storage_bytes_(flat, 0);
  assert.equal(cpu_caching_allocator_stats().cached_bytes - cached, 256 * mib);
  cpu_empty_cache();
  const after = process.memoryUsage().rss;
  assert.ok(before - after > 200 * mib, `RSS went from ${before / mib} to ${after / mib} MiB`);
  assert.equal(_storage_nbytes(view), 0);
  _resize_storage_bytes_(flat, 64 * mib * 4);
  flat.fill_(2);
  assert.equal(view.sum().item(), 20);
  flat.dispose();
  view.dispose();
});
