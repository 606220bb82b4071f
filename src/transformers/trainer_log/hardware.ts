// What the log needs to know about the device: its peak FLOP/s (from the planner's presets, for MFU)
// and the peak memory this process used on it.
import { hardwarePreset } from "../../parallel/planner/index.js";
import * as torch from "../../torch/index.js";

// Device-name fragments (as torch.cuda.get_device_name reports them) → planner hardware presets.
const GPU_PRESETS: Array<[RegExp, string]> = [
  [/H200/i, "h200"],
  [/H100/i, "h100-sxm-80gb"],
  [/A100.*40/i, "a100-40gb"],
  [/A100/i, "a100-80gb"],
  [/MI250/i, "mi250-gcd"],
];

/** Dense bf16 peak FLOP/s of a device by name, or null where no preset knows it (CPUs included). */
export function peakFlopsFor(deviceName: string): number | null {
  const hit = GPU_PRESETS.find(([re]) => re.test(deviceName));
  return hit === undefined ? null : hardwarePreset(hit[1]).peakFlops;
}

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
