// Grad-mode scopes. PyTorch's `with torch.no_grad():` is `torch.no_grad(() => ...)` here; the scope
// returns what the callback returns and restores the previous mode even when it throws.
import { native } from "../_native.js";
import { expectCallback } from "../_type_name.js";

export function is_grad_enabled(): boolean {
  return native.isGradEnabled();
}

function withGradMode<T>(mode: boolean, fn: () => T, what: string, usage: string): T {
  expectCallback(fn, what, usage);
  const prev = native.isGradEnabled();
  native.setGradEnabled(mode);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}

export function no_grad<T>(fn: () => T): T {
  return withGradMode(false, fn, "torch.no_grad", "torch.no_grad(() => ...)");
}

export function enable_grad<T>(fn: () => T): T {
  return withGradMode(true, fn, "torch.enable_grad", "torch.enable_grad(() => ...)");
}

/** `set_grad_enabled(mode)` sets the mode; `set_grad_enabled(mode, fn)` scopes it to fn. */
export function set_grad_enabled(mode: boolean): void;
export function set_grad_enabled<T>(mode: boolean, fn: () => T): T;
export function set_grad_enabled<T>(mode: boolean, fn?: () => T): T | void {
  if (fn === undefined) {
    native.setGradEnabled(mode);
    return;
  }
  return withGradMode(mode, fn, "torch.set_grad_enabled", "torch.set_grad_enabled(false, () => ...)");
}

/** `inference_mode(fn)` or `inference_mode(mode, fn)`: no autograd recording and no version counting. */
export function inference_mode<T>(fn: () => T): T;
export function inference_mode<T>(mode: boolean, fn: () => T): T;
export function inference_mode<T>(a: boolean | (() => T), b?: () => T): T {
  const [mode, fn] = typeof a === "function" ? [true, a] : [a, b as () => T];
  expectCallback(fn, "torch.inference_mode", "torch.inference_mode(() => ...)");
  native.enterInferenceMode(mode);
  try {
    return fn();
  } finally {
    native.exitInferenceMode();
  }
}

export function is_inference_mode_enabled(): boolean {
  return native.isInferenceModeEnabled();
}
