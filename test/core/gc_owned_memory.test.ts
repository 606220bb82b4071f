// Tensors that only the GC frees (dropped without dispose or a scope) count toward V8's external
// memory with a weight of 4 (native/src/handles.cc), so V8's fixed 64 MiB external soft limit starts
// a full collection after 16 MiB of them rather than 64 MiB: a training loop's dead logits do not pile
// up for steps before one runs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PerformanceObserver, constants } from "node:perf_hooks";
import { torch } from "../../src/index.js";

const MiB = 1 << 20;

// Bytes in the caching allocator's blocks in use (1 MiB and larger).
const liveLargeBytes = (): number => {
  const s = torch.cpu.caching_allocator_stats();
  return s.reserved_bytes - s.cached_bytes;
};

// V8 marks the full collections it runs for external memory with these two callback flags (node's
// gc entries carry them); the memory reducer's idle collection, the one that frees such tensors after
// ~8 s otherwise, carries only ALL_EXTERNAL_MEMORY.
const EXTERNAL_PRESSURE =
  constants.NODE_PERFORMANCE_GC_FLAGS_ALL_EXTERNAL_MEMORY | constants.NODE_PERFORMANCE_GC_FLAGS_SYNCHRONOUS_PHANTOM_PROCESSING;

// Resolves at V8's next full collection for external memory; `signal` (the test's, aborted when it
// times out) lets the file's process end if none comes.
function nextExternalPressureCollection(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    // V8's marking tasks do not keep node's event loop alive; this does until the entry arrives.
    const alive = setInterval(() => {}, 100);
    signal.addEventListener("abort", () => {
      clearInterval(alive);
      obs.disconnect();
    });
    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const { kind, flags } = (e as unknown as { detail: { kind: number; flags: number } }).detail;
        if (kind === constants.NODE_PERFORMANCE_GC_MAJOR && (flags & EXTERNAL_PRESSURE) === EXTERNAL_PRESSURE) {
          obs.disconnect();
          clearInterval(alive);
          resolve();
        }
      }
    });
    obs.observe({ entryTypes: ["gc"] });
  });
}

// scripts/run-tests.mjs starts node with --expose-gc.
function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) throw new Error("run this file with node --expose-gc");
  collect();
}

test("20 MiB of tensors left to the GC start a full collection for external memory, which frees them", { timeout: 60_000 }, async (t) => {
  gc(); // an empty young generation: no scavenge frees the tensors below before V8 counts them
  const base = liveLargeBytes();
  const collected = nextExternalPressureCollection(t.signal);
  // 5 × 4 MiB, each dropped at once: 80 MiB counted against V8's 64 MiB soft limit (20 MiB unweighted
  // would not reach it, and nothing here allocates on the JS heap to start one otherwise).
  for (let i = 0; i < 5; i++) torch.empty([MiB], { dtype: torch.float32 });
  assert.equal(liveLargeBytes() - base, 20 * MiB);
  await collected;
  assert.equal(liveLargeBytes(), base);
});
