// Calls an ATen op by name through the native boxed entry. The last argument is taken as keyword
// arguments when it is a plain object literal (PyTorch's `f(x, dim=1)` is `f(x, {dim: 1})`).
import { native } from "./_native.js";

export function isKwargs(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

interface HasHandle {
  _h: unknown;
}

// Tensors (and Generators) cross as their native handles: a JS property read here is far cheaper
// than a Node-API property lookup per argument in native code.
function unwrap(args: unknown[], n: number): unknown[] {
  const out = new Array<unknown>(n);
  for (let i = 0; i < n; i++) {
    const a = args[i];
    out[i] = a !== null && typeof a === "object" && (a as HasHandle)._h !== undefined ? (a as HasHandle)._h : a;
  }
  return out;
}

// An op that returns one of its tensor arguments unchanged gets back that argument's handle; the
// caller's own object is returned, as Python's `is` would see it.
function rewrap(r: unknown, args: unknown[]): unknown {
  if (r === null || typeof r !== "object" || (r as HasHandle)._h !== undefined || Array.isArray(r)) return r;
  for (const a of args) if (a !== null && typeof a === "object" && (a as HasHandle)._h === r) return a;
  return r;
}

export function invoke(id: number, args: unknown[]): unknown {
  let n = args.length;
  let kwargs: Record<string, unknown> | undefined;
  if (n > 0 && isKwargs(args[n - 1])) kwargs = args[--n] as Record<string, unknown>;
  const handles = unwrap(args, n);
  if (kwargs === undefined) return rewrap(native.callOp(id, handles), args);
  if (kwargs.requires_grad === undefined) return rewrap(native.callOp(id, handles, kwargs), args);
  // Factory functions take requires_grad in Python's binding, not in the op schema.
  const { requires_grad, ...rest } = kwargs;
  const out = native.callOp(id, handles, rest);
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
