// What the log needs to know about the device: the peak memory this process used on it. (Its peak
// FLOP/s, for MFU, comes from the caller: the planner's presets know devices, the log does not.)
import * as torch from "../../torch/index.js";

export interface PeakMemory {
  bytes: number;
  /** Where the number comes from, said in the log. */
  source: "torch.cuda.max_memory_allocated" | "process peak RSS";
}

export function peakMemory(device: torch.device): PeakMemory {
  if (device.type === "cuda") return { bytes: torch.cuda.max_memory_allocated(device), source: "torch.cuda.max_memory_allocated" };
  // ru_maxrss is in KiB on Linux.
  return { bytes: process.resourceUsage().maxRSS * 1024, source: "process peak RSS" };
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}
