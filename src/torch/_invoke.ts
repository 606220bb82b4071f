// Calls an ATen op by name through the native boxed entry. The last argument is taken as keyword
// arguments when it is a plain object literal (PyTorch's `f(x, dim=1)` is `f(x, {dim: 1})`).
import { native } from "./_native.js";

export function isKwargs(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

export function invoke(id: number, args: unknown[]): unknown {
  const n = args.length;
  if (n === 0 || !isKwargs(args[n - 1])) return native.callOp(id, args);
  const kwargs = args[n - 1] as Record<string, unknown>;
  if (kwargs.requires_grad === undefined) return native.callOp(id, args.slice(0, n - 1), kwargs);
  // Factory functions take requires_grad in Python's binding, not in the op schema.
  const { requires_grad, ...rest } = kwargs;
  const out = native.callOp(id, args.slice(0, n - 1), rest);
  native.setRequiresGrad(out as { _h: never }, Boolean(requires_grad));
  return out;
}

/** An op caller whose id is resolved on first use, so importing thousands of ops costs nothing. */
export function op(name: string): (args: unknown[]) => unknown {
  let id = -2;
  return (args: unknown[]) => {
    if (id === -2) {
      id = native.resolveOp(name);
      if (id < 0) throw new TypeError(`${name} is not an operator this build of libtorch can call`);
    }
    return invoke(id, args);
  };
}
