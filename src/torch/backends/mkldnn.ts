// torch.backends.mkldnn: oneDNN. `torch.backends.mkldnn.enabled = false` reads and writes as in
// Python. Beyond what it switches in PyTorch, it switches tessera's float32 CPU linear between
// oneDNN and MKL (native/src/cpu_linear.cc).
import { native } from "../_native.js";
import { expectCallback } from "../_type_name.js";

export const mkldnn = {
  /** Whether this build of libtorch has oneDNN. */
  is_available(): boolean {
    return native.mkldnnIsAvailable();
  },

  /** Whether ops may use oneDNN (default true). */
  get enabled(): boolean {
    return native.mkldnnEnabled();
  },

  set enabled(value: boolean) {
    native.setMkldnnEnabled(value);
  },

  /** Runs `fn` with oneDNN enabled or not, then restores the setting: Python's `with torch.backends.mkldnn.flags(enabled=...)`. */
  flags<T>(opts: { enabled: boolean }, fn: () => T): T {
    expectCallback(fn, "torch.backends.mkldnn.flags", "torch.backends.mkldnn.flags({ enabled: false }, () => ...)");
    const before = native.mkldnnEnabled();
    native.setMkldnnEnabled(opts.enabled);
    try {
      return fn();
    } finally {
      native.setMkldnnEnabled(before);
    }
  },
};
