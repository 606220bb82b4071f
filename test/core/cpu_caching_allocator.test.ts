// The caching CPU allocator (native/src/cpu_caching_allocator.cc): a freed large block waits in a
// size-keyed cache and serves the next allocation of its size; the cache keeps within its byte bound
// and gives back blocks left idle; `backend:native` hands allocations to libtorch's default again.
// Each test allocates sizes no other test uses, so their blocks cannot meet in the cache.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { torch } from "../../src/index.js";
import {
  cpu_allocator_settings,
  cpu_caching_allocator_stats,
  cpu_empty_cache,
  cpu_memory_allocated,
  cpu_memory_reserved,
  cpu_set_allocator_settings,
  track_cpu_memory,
} from "../../src/torch/cpu_memory.js";
import { runNodeScript } from "../helpers/node_script.js";
import { repoRoot } from "../helpers/oracle.js";

const MiB = 1 << 20;
const DEFAULTS = "backend:caching,min_block_size_kb:1024,max_cached_mb:1024,max_idle_allocs:20000";

/** A float32 tensor of `bytes` bytes (a multiple of 4). */
const block = (bytes: number) => torch.empty([bytes / 4], { dtype: torch.float32 });

test("the caching allocator is on by default with PyTorch-style settings", () => {
  assert.deepEqual(cpu_allocator_settings(), {
    backend: "caching",
    min_block_size: MiB,
    max_cached: 1024 * MiB,
    max_idle_allocs: 20000,
  });
});

test("a freed block of size S serves the next allocation of size S, with the values written to it", () => {
  const before = cpu_caching_allocator_stats();
  const a = torch.full([(3 * MiB) / 4], 2.5);
  assert.equal(cpu_caching_allocator_stats().misses, before.misses + 1);
  assert.equal(cpu_memory_reserved(), before.reserved_bytes + 3 * MiB);
  a.dispose();
  assert.equal(cpu_caching_allocator_stats().cached_bytes, before.cached_bytes + 3 * MiB);
  const b = torch.full([(3 * MiB) / 4], 1.5);
  const after = cpu_caching_allocator_stats();
  assert.equal(after.hits, before.hits + 1);
  assert.equal(after.misses, before.misses + 1);
  assert.equal(after.cached_bytes, before.cached_bytes);
  assert.equal(b.sum().item(), 1.5 * ((3 * MiB) / 4));
  b.dispose();
  cpu_empty_cache();
  assert.equal(cpu_caching_allocator_stats().cached_bytes, 0);
  assert.equal(cpu_memory_reserved(), before.reserved_bytes - before.cached_bytes);
});

test("a cached block serves a request up to 1/8 smaller, not one smaller still; small allocations bypass the cache", () => {
  const a = block(8 * MiB);
  a.dispose();
  const before = cpu_caching_allocator_stats();
  const b = block(7 * MiB + 256 * 1024); // 8 MiB is within 1/8 of 7.25 MiB
  assert.equal(cpu_caching_allocator_stats().hits, before.hits + 1);
  b.dispose();
  const c = block(6 * MiB); // 8 MiB is a third larger: a new mapping
  assert.equal(cpu_caching_allocator_stats().misses, before.misses + 1);
  c.dispose();
  const mid = cpu_caching_allocator_stats();
  block(MiB - 4).dispose(); // below min_block_size: libtorch's default allocator
  assert.deepEqual(cpu_caching_allocator_stats(), mid);
  cpu_empty_cache();
});

test("the cache keeps within max_cached_mb, oldest first, and gives back blocks idle for max_idle_allocs", () => {
  try {
    cpu_set_allocator_settings("max_cached_mb:10");
    const before = cpu_caching_allocator_stats();
    const held = [block(4 * MiB), block(4 * MiB), block(4 * MiB)];
    for (const t of held) {
      t.dispose();
      assert.ok(cpu_caching_allocator_stats().cached_bytes <= 10 * MiB);
    }
    const full = cpu_caching_allocator_stats();
    assert.equal(full.cached_bytes, 8 * MiB);
    assert.equal(full.releases, before.releases + 1);
    // A block larger than the bound is never cached.
    block(12 * MiB).dispose();
    assert.equal(cpu_caching_allocator_stats().cached_bytes, 8 * MiB);
    assert.equal(cpu_caching_allocator_stats().releases, before.releases + 2);

    cpu_set_allocator_settings("max_cached_mb:1024,max_idle_allocs:2");
    const idle = block(5 * MiB);
    idle.dispose(); // cached now: 4 + 4 + 5 MiB
    block(2 * MiB).dispose(); // the 4 MiB blocks have now sat through 3 large allocations
    assert.equal(cpu_caching_allocator_stats().cached_bytes, 5 * MiB + 2 * MiB);
    // Lowering the bound trims at once.
    cpu_set_allocator_settings("max_cached_mb:6");
    assert.equal(cpu_caching_allocator_stats().cached_bytes, 2 * MiB);
  } finally {
    cpu_set_allocator_settings(DEFAULTS);
    cpu_empty_cache();
  }
});

test("backend:native hands large allocations to libtorch's default; a cached-path block freed later goes back to the OS", () => {
  const kept = block(9 * MiB);
  const before = cpu_caching_allocator_stats();
  try {
    cpu_set_allocator_settings("backend:native");
    assert.equal(cpu_allocator_settings().backend, "native");
    const n = torch.full([(9 * MiB) / 4], 3.0);
    assert.equal(n.sum().item(), 3 * ((9 * MiB) / 4));
    n.dispose();
    assert.deepEqual(cpu_caching_allocator_stats(), before);
    kept.dispose();
    const after = cpu_caching_allocator_stats();
    assert.equal(after.cached_bytes, 0);
    assert.equal(after.reserved_bytes, before.reserved_bytes - 9 * MiB);
    assert.equal(after.releases, before.releases + 1);
  } finally {
    cpu_set_allocator_settings(DEFAULTS);
  }
});

test("the counting allocator wraps the caching one: a cached block's bytes count while its tensor lives", () => {
  track_cpu_memory();
  const before = cpu_memory_allocated();
  const hits = cpu_caching_allocator_stats().hits;
  block(11 * MiB).dispose();
  const t = block(11 * MiB);
  assert.equal(cpu_caching_allocator_stats().hits, hits + 1);
  assert.equal(cpu_memory_allocated() - before, 11 * MiB);
  t.dispose();
  assert.equal(cpu_memory_allocated(), before);
  cpu_empty_cache();
});

test("bad settings name the key and what is allowed", () => {
  assert.throws(() => cpu_set_allocator_settings("backend:pooled"), /backend must be 'caching' or 'native', got 'pooled'/);
  assert.throws(() => cpu_set_allocator_settings("max_cached_mb:-1"), /max_cached_mb must be a non-negative integer, got '-1'/);
  assert.throws(() => cpu_set_allocator_settings("min_block_size_kb:0"), /min_block_size_kb must be at least 1/);
  assert.throws(() => cpu_set_allocator_settings("roundup:4"), /unknown key 'roundup'/);
  assert.throws(() => cpu_set_allocator_settings("max_cached_mb"), /expected key:value, got 'max_cached_mb'/);
  assert.equal(cpu_allocator_settings().backend, "caching");
});

test("TESSERA_CPU_ALLOC_CONF configures the allocator at load, and a bad value stops the load with its message", () => {
  const script = `import { cpu_allocator_settings } from ${JSON.stringify(path.join(repoRoot, "src/torch/cpu_memory.ts"))};
console.log(JSON.stringify(cpu_allocator_settings()));`;
  const run = (conf: string) => runNodeScript(script, { ...process.env, TESSERA_CPU_ALLOC_CONF: conf });
  const ok = run("backend:native, max_cached_mb:64");
  assert.equal(ok.status, 0, ok.stderr);
  assert.deepEqual(JSON.parse(ok.stdout), {
    backend: "native",
    min_block_size: MiB,
    max_cached: 64 * MiB,
    max_idle_allocs: 20000,
  });
  const bad = run("max_idle_allocs:soon");
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /TESSERA_CPU_ALLOC_CONF: max_idle_allocs must be a non-negative integer, got 'soon'/);
});

test("torch.cpu names the allocator's statistics and cache as torch.cuda does", () => {
  const a = block(13 * MiB);
  assert.equal(torch.cpu.memory_reserved(), cpu_memory_reserved());
  a.dispose();
  assert.ok(torch.cpu.caching_allocator_stats().cached_bytes >= 13 * MiB);
  torch.cpu.empty_cache();
  assert.equal(torch.cpu.caching_allocator_stats().cached_bytes, 0);
  assert.equal(torch.cpu.allocator_settings().backend, "caching");
});
