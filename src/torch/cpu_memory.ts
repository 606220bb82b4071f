// Bytes held by CPU tensors: torch.cuda.memory_allocated's statistics for the CPU, which libtorch does
// not keep. `track_cpu_memory()` wraps the CPU allocator in a counting one (native/src/cpu_memory.cc);
// only allocations made after it are counted, so call it before building what is to be measured.
// tessera's own extension (PyTorch has no CPU twin), used by the planner's CPU calibration.
import { readFileSync } from "node:fs";
import { native } from "./_native.js";

/** Starts counting CPU allocations (idempotent). */
export function track_cpu_memory(): void {
  native.cpuMemoryTracking();
}

/** Bytes of counted CPU allocations alive now. */
export function cpu_memory_allocated(): number {
  return native.cpuMemoryStats()[0];
}

/** The most bytes of counted CPU allocations alive at once since tracking began or the last reset. */
export function cpu_max_memory_allocated(): number {
  return native.cpuMemoryStats()[1];
}

/** Restarts the peak from what is allocated now (torch.cuda.reset_peak_memory_stats for the CPU). */
export function cpu_reset_peak_memory_stats(): void {
  native.cpuResetPeakMemoryStats();
}

// The caching CPU allocator (native/src/cpu_caching_allocator.cc): blocks of at least
// `min_block_size_kb` get a mapping of their own that, once freed, waits in a size-keyed cache for the
// next allocation of that size instead of going back to the OS, so a training loop reuses its big
// blocks with their pages resident whatever order the GC frees them in. On by default; the
// TESSERA_CPU_ALLOC_CONF environment variable (read at load, PYTORCH_CUDA_ALLOC_CONF's
// `key:value,...` form) or `cpu_set_allocator_settings` configures it:
//   backend:caching|native   native hands every allocation to libtorch's default CPU allocator
//   min_block_size_kb:N      smallest allocation the cache serves (default 1024)
//   max_cached_mb:N          most bytes kept cached; the oldest blocks go back first (default 1024)
//   max_idle_allocs:N        a cached block not reused within N large allocations goes back (default 20000)

/** Applies allocator settings (`"backend:native"`, `"max_cached_mb:256,min_block_size_kb:512"`); keys left out keep their value. */
export function cpu_set_allocator_settings(conf: string): void {
  native.cpuSetAllocatorSettings(conf);
}

/** The caching allocator's settings now, in bytes. */
export function cpu_allocator_settings(): {
  backend: "caching" | "native";
  min_block_size: number;
  max_cached: number;
  max_idle_allocs: number;
} {
  const [caching, min_block_size, max_cached, max_idle_allocs] = native.cpuAllocatorSettings();
  return { backend: caching ? "caching" : "native", min_block_size, max_cached, max_idle_allocs };
}

/** Bytes the caching allocator holds: its blocks in use plus those cached (torch.cuda.memory_reserved's CPU twin). */
export function cpu_memory_reserved(): number {
  return native.cpuCachingAllocatorStats()[0];
}

/** The caching allocator's counters: bytes reserved and cached, allocations served from the cache (hits) or by a new mapping (misses), blocks given back to the OS. */
export function cpu_caching_allocator_stats(): {
  reserved_bytes: number;
  cached_bytes: number;
  hits: number;
  misses: number;
  releases: number;
} {
  const [reserved_bytes, cached_bytes, hits, misses, releases] = native.cpuCachingAllocatorStats();
  return { reserved_bytes, cached_bytes, hits, misses, releases };
}

/** Gives every cached block back to the OS (torch.cuda.empty_cache's CPU twin). */
export function cpu_empty_cache(): void {
  native.cpuEmptyCache();
}

// Under a data or address-space limit (prlimit, ulimit -d/-v) cached blocks count against the limit
// while holding no tensor, so glibc's own allocations could fail beside a full cache: the cache keeps
// at most an eighth of the limit unless TESSERA_CPU_ALLOC_CONF sets max_cached_mb itself.
function processMemoryLimit(): number | undefined {
  let text: string;
  try {
    text = readFileSync("/proc/self/limits", "utf8");
  } catch {
    return undefined;
  }
  const limits = text
    .split("\n")
    .filter((l) => l.startsWith("Max data size") || l.startsWith("Max address space"))
    .map((l) => Number(l.trim().split(/\s+/)[3]))
    .filter((n) => Number.isFinite(n) && n > 0);
  return limits.length === 0 ? undefined : Math.min(...limits);
}

const limit = processMemoryLimit();
if (limit !== undefined && !/max_cached_mb/.test(process.env.TESSERA_CPU_ALLOC_CONF ?? "")) {
  const capMb = Math.floor(limit / 8 / 2 ** 20);
  if (capMb * 2 ** 20 < cpu_allocator_settings().max_cached) cpu_set_allocator_settings(`max_cached_mb:${capMb}`);
}
