// Calls an ATen op by name through the native boxed entry. The last argument is taken as keyword
// arguments when it is a plain object literal (PyTorch's `f(x, dim=1)` is `f(x, {dim: 1})`).
import { native, type NativeHandle } from "./_native.js";

export function isKwargs(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

interface HasHandle {
  _h: unknown;
}

let wrap: (h: NativeHandle) => unknown = (h) => h;

/** Set once by tensor.ts: how a bare tensor handle returned by an op becomes a Tensor. */
export function setTensorWrapper(fn: (h: NativeHandle) => unknown): void {
  wrap = fn;
}

// Tensors (and Generators) cross as their native handles: a JS property read here is far cheaper
// than a Node-API property lookup per argument in native code.
function handleOf(a: unknown): unknown {
  return a !== null && typeof a === "object" && (a as HasHandle)._h !== undefined ? (a as HasHandle)._h : a;
}

// A lone tensor result comes back as a bare handle (an external: an object that is neither an array
// nor has `_h`). When it is one of the arguments' own handles (an in-place op, `t.contiguous()` of
// a contiguous `t`), the caller's object is returned, as Python's `is` would see it; otherwise it
// is wrapped in a new Tensor here, which is much cheaper than constructing it in native code.
function result(r: unknown, args: unknown[], n: number): unknown {
  if (r === null || typeof r !== "object" || Array.isArray(r)) return r;
  for (let i = 0; i < n; i++) {
    const a = args[i];
    if (a !== null && typeof a === "object" && (a as HasHandle)._h === r) return a;
  }
  return wrap(r as NativeHandle);
}

const callOp = native.callOp;

// Fixed-arity calls for the common argument counts: no intermediate array, and V8 passes them
// straight through to the native entry.
function call(id: number, kwargs: Record<string, unknown> | undefined, args: unknown[], n: number): unknown {
  switch (n) {
    case 0:
      return callOp(id, kwargs);
    case 1:
      return callOp(id, kwargs, handleOf(args[0]));
    case 2:
      return callOp(id, kwargs, handleOf(args[0]), handleOf(args[1]));
    case 3:
      return callOp(id, kwargs, handleOf(args[0]), handleOf(args[1]), handleOf(args[2]));
    default: {
      const hs = new Array<unknown>(n);
      for (let i = 0; i < n; i++) hs[i] = handleOf(args[i]);
      return callOp(id, kwargs, ...hs);
    }
  }
}

export function invoke(id: number, args: unknown[]): unknown {
  let n = args.length;
  let kwargs: Record<string, unknown> | undefined;
  if (n > 0 && isKwargs(args[n - 1])) kwargs = args[--n] as Record<string, unknown>;
  if (kwargs === undefined || kwargs.requires_grad === undefined) return result(call(id, kwargs, args, n), args, n);
  // Factory functions take requires_grad in Python's binding, not in the op schema.
  const { requires_grad, ...rest } = kwargs;
  const out = result(call(id, rest, args, n), args, n);
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
