// torch.cuda: device queries and the caching allocator's statistics.
import { native } from "./_native.js";
import type { device } from "./device.js";
import { Generator } from "./generator.js";
import type { Tensor } from "./tensor.js";

type DeviceArg = number | string | device | null | undefined;

function index(d: DeviceArg): number | undefined {
  if (d === undefined || d === null) return undefined;
  if (typeof d === "number") return d;
  const s = String(d);
  const m = /^cuda(?::(\d+))?$/.exec(s);
  if (m === null) throw new TypeError(`expected a CUDA device, got '${s}'`);
  return m[1] === undefined ? undefined : Number(m[1]);
}

export function is_available(): boolean {
  return native.cudaIsAvailable();
}

export function device_count(): number {
  return native.cudaDeviceCount();
}

export function current_device(): number {
  return native.cudaCurrentDevice();
}

export function set_device(d: DeviceArg): void {
  const i = index(d);
  if (i !== undefined) native.cudaSetDevice(i);
}

export function synchronize(d?: DeviceArg): void {
  native.cudaSynchronize(index(d));
}

// One of [allocated, max allocated, reserved, max reserved]. Without CUDA every statistic is 0, as
// PyTorch reports before CUDA is initialized, so a script that logs memory runs unchanged on a CPU.
function memoryStat(d: DeviceArg, which: number): number {
  const i = index(d);
  return native.cudaIsAvailable() ? native.cudaMemoryStats(i)[which] : 0;
}

export function memory_allocated(d?: DeviceArg): number {
  return memoryStat(d, 0);
}

export function max_memory_allocated(d?: DeviceArg): number {
  return memoryStat(d, 1);
}

export function memory_reserved(d?: DeviceArg): number {
  return memoryStat(d, 2);
}

export function max_memory_reserved(d?: DeviceArg): number {
  return memoryStat(d, 3);
}

export function reset_peak_memory_stats(d?: DeviceArg): void {
  native.cudaResetPeakMemoryStats(index(d));
}

export function empty_cache(): void {
  if (native.cudaIsAvailable()) native.cudaEmptyCache();
}

/** [free, total] bytes of the device, as torch.cuda.mem_get_info. */
export function mem_get_info(d?: DeviceArg): [number, number] {
  return native.cudaMemInfo(index(d));
}

/** Seeds every device's generator (torch.manual_seed does the CPU too). */
export function manual_seed_all(seed: number | bigint): void {
  native.manualSeed(seed);
}

export const manual_seed = manual_seed_all;

function defaultGenerator(d: DeviceArg): Generator {
  return Generator._wrap(native.cudaDefaultGenerator(index(d)));
}

/** A device's generator state (the current device by default), as torch.cuda.get_rng_state. */
export function get_rng_state(d: DeviceArg = "cuda"): Tensor {
  return defaultGenerator(d).get_state();
}

export function set_rng_state(new_state: Tensor, d: DeviceArg = "cuda"): void {
  defaultGenerator(d).set_state(new_state);
}

/** Every device's generator state, in device order. */
export function get_rng_state_all(): Tensor[] {
  return Array.from({ length: device_count() }, (_, i) => get_rng_state(i));
}

export function set_rng_state_all(new_states: readonly Tensor[]): void {
  new_states.forEach((s, i) => set_rng_state(s, i));
}
