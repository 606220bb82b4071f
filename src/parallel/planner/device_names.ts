// Device names as torch.cuda.get_device_name reports them → the planner's hardware presets, so that
// a training log can state MFU against the device's dense bf16 peak.
import { hardwarePreset } from "./hardware.js";

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
