// torch.autocast. PyTorch's `with torch.autocast("cuda", dtype=torch.bfloat16): ...` is
// `torch.autocast({ device_type: "cuda", dtype: torch.bfloat16 }, () => ...)` (or
// `torch.autocast("cuda", { dtype }, fn)`): the scope returns fn's value. It saves, sets and restores
// the same libtorch state as torch/amp/autocast_mode.py's __enter__/__exit__.
import { RuntimeError } from "../errors.js";
import { native } from "../_native.js";
import { dtype, dtypeFromId } from "../dtype.js";
import { expectCallback } from "../_type_name.js";
import { checkOptions } from "../_options.js";

export interface AutocastOptions {
  device_type?: string;
  dtype?: dtype | null;
  enabled?: boolean;
  cache_enabled?: boolean | null;
}

export function is_autocast_available(device_type: string): boolean {
  try {
    native.autocastIsEnabled(device_type);
    return true;
  } catch {
    return false;
  }
}

export function is_autocast_enabled(device_type = "cuda"): boolean {
  return native.autocastIsEnabled(device_type);
}

export function get_autocast_dtype(device_type: string): dtype {
  return dtypeFromId(native.autocastGetDtype(device_type));
}

export function autocast<T>(options: AutocastOptions & { device_type: string }, fn: () => T): T;
export function autocast<T>(device_type: string, fn: () => T): T;
export function autocast<T>(device_type: string, options: AutocastOptions, fn: () => T): T;
export function autocast<T>(a: string | AutocastOptions, b: AutocastOptions | (() => T), c?: () => T): T {
  checkOptions("autocast.__init__", typeof a === "string" ? (typeof b === "function" ? undefined : b) : a, {
    device_type: true,
    dtype: true,
    enabled: true,
    cache_enabled: true,
  });
  const opts: AutocastOptions = typeof a === "string" ? { ...(typeof b === "function" ? {} : b), device_type: a } : a;
  const fn = typeof b === "function" ? b : c;
  expectCallback(fn, "torch.autocast", 'torch.autocast("cuda", { dtype: torch.bfloat16 }, () => ...)');
  const device = opts.device_type;
  if (typeof device !== "string")
    throw new TypeError(`autocast: device_type must be a string such as "cuda" or "cpu", got ${typeof device}`);
  if (!is_autocast_available(device)) {
    throw new RuntimeError(`User specified an unsupported autocast device_type '${device}'`);
  }
  const fast = opts.dtype ?? get_autocast_dtype(device);
  if (!(fast instanceof dtype) || !fast.is_floating_point)
    throw new TypeError(`autocast: dtype must be a floating-point torch.dtype, got ${String(fast)}`);
  const enabled = opts.enabled ?? true;
  const cache = opts.cache_enabled ?? native.autocastIsCacheEnabled();

  const prevCache = native.autocastIsCacheEnabled();
  const prevEnabled = native.autocastIsEnabled(device);
  const prevDtype = native.autocastGetDtype(device);
  native.autocastSetEnabled(device, enabled);
  native.autocastSetDtype(device, fast);
  native.autocastIncrementNesting();
  native.autocastSetCacheEnabled(cache);
  try {
    return fn();
  } finally {
    if (native.autocastDecrementNesting() === 0) native.autocastClearCache();
    native.autocastSetEnabled(device, prevEnabled);
    native.autocastSetDtype(device, dtypeFromId(prevDtype));
    native.autocastSetCacheEnabled(prevCache);
  }
}
