// Bytes held by CPU tensors: torch.cuda.memory_allocated's statistics for the CPU, which libtorch does
// not keep. `track_cpu_memory()` wraps the CPU allocator in a counting one (native/src/cpu_memory.cc);
// only allocations made after it are counted, so call it before building what is to be measured.
// tessera's own extension (PyTorch has no CPU twin), used by the planner's CPU calibration.
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
