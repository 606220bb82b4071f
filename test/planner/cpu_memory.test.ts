// The counting CPU allocator the planner's CPU calibration reads per-rank memory from: exact bytes of
// the tensors alive, and their peak.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as torch from "../../src/torch/index.js";
import {
  cpu_max_memory_allocated,
  cpu_memory_allocated,
  cpu_reset_peak_memory_stats,
  track_cpu_memory,
} from "../../src/torch/cpu_memory.js";

test("CPU memory statistics count a tensor's bytes while it lives, and the peak", () => {
  track_cpu_memory();
  track_cpu_memory(); // idempotent
  const before = cpu_memory_allocated();
  cpu_reset_peak_memory_stats();
  assert.equal(cpu_max_memory_allocated(), before);
  const a = torch.empty([1000, 250], { dtype: torch.float32 }); // 1,000,000 bytes
  assert.equal(cpu_memory_allocated() - before, 1_000_000);
  const b = torch.empty([500], { dtype: torch.float64 }); // 4,000 bytes
  assert.equal(cpu_memory_allocated() - before, 1_004_000);
  a.dispose();
  assert.equal(cpu_memory_allocated() - before, 4_000);
  assert.equal(cpu_max_memory_allocated() - before, 1_004_000);
  cpu_reset_peak_memory_stats();
  assert.equal(cpu_max_memory_allocated() - before, 4_000);
  b.dispose();
  assert.equal(cpu_memory_allocated(), before);
  // A view shares its base's storage: nothing new is allocated.
  const c = torch.zeros([64, 64]);
  const held = cpu_memory_allocated();
  const v = c.view([4096]);
  assert.equal(cpu_memory_allocated(), held);
  v.dispose();
  c.dispose();
  assert.equal(cpu_memory_allocated(), before);
});

test("under the counting allocator, memory taken through raw_allocate (oneDNN's scratch in a linear) is counted and freed", () => {
  track_cpu_memory();
  const x = torch.randn([256, 256]);
  const w = torch.randn([688, 256]);
  const expected = x.matmul(w.t());
  const before = cpu_memory_allocated();
  cpu_reset_peak_memory_stats();
  const y = torch.nn.functional.linear(x, w); // 256 x 256 x 688: oneDNN's path
  // The output, plus the scratch oneDNN took and gave back.
  assert.equal(cpu_memory_allocated() - before, 256 * 688 * 4);
  assert.ok(cpu_max_memory_allocated() - before > 256 * 688 * 4);
  assert.ok(torch.scope(() => y.sub(expected).abs().max().item()) < 1e-3);
  y.dispose();
  assert.equal(cpu_memory_allocated(), before);
});
