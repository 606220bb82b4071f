// Calls an ATen op by name through the native entry. The last argument is taken as keyword
// arguments when it is a plain object literal (PyTorch's `f(x, dim=1)` is `f(x, {dim: 1})`).
import { native, type NativeHandle } from "./_native.js";

/** Whether `v` is keyword arguments: a plain object literal, as opposed to a Tensor, array or value. */
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

// A tensor's handle is a number, so the call's mask tells native code which arguments are handles:
// bit `bit` set when `a` is a Tensor.
function tensorBit(a: unknown, bit: number): number {
  return a !== null && typeof a === "object" && typeof (a as HasHandle)._h === "number" ? 1 << bit : 0;
}

/** Stands for "no `self`": the call is `torch.<op>(...)`, not a method. */
const NO_SELF: unique symbol = Symbol("no self");
type Self = object | typeof NO_SELF;

function isArgumentHandle(a: unknown, r: unknown): boolean {
  return a !== null && typeof a === "object" && (a as HasHandle)._h === r;
}

// A lone tensor result comes back as a bare handle, a number (a lone number result comes boxed, as
// a Number object). When it is one of the arguments' own handles (an in-place op, `t.contiguous()`
// of a contiguous `t`), the caller's object is returned, as Python's `is` would see it; otherwise it
// is wrapped in a new Tensor here, which is much cheaper than constructing it in native code.
function result(r: unknown, self: Self, args: unknown[], n: number): unknown {
  if (typeof r === "number") {
    if (isArgumentHandle(self, r)) return self;
    for (let i = 0; i < n; i++) if (isArgumentHandle(args[i], r)) return args[i];
    return wrap(r as unknown as NativeHandle);
  }
  return r instanceof Number ? r.valueOf() : r;
}

const { callOp, callOpKw } = native;

// Without keyword arguments, the common argument counts are fixed-arity calls: no intermediate
// array, and V8 passes the values straight through to the native entry.
function call(id: number, kwargs: Record<string, unknown> | undefined, self: Self, args: unknown[], n: number): unknown {
  if (kwargs === undefined) {
    if (self === NO_SELF) {
      if (n === 0) return callOp(id, 0);
      const a0 = args[0];
      if (n === 1) return callOp(id, tensorBit(a0, 0), handleOf(a0));
      const a1 = args[1];
      if (n === 2) return callOp(id, tensorBit(a0, 0) | tensorBit(a1, 1), handleOf(a0), handleOf(a1));
      const a2 = args[2];
      if (n === 3) return callOp(id, tensorBit(a0, 0) | tensorBit(a1, 1) | tensorBit(a2, 2), handleOf(a0), handleOf(a1), handleOf(a2));
    } else {
      const s = handleOf(self);
      if (n === 0) return callOp(id, 1, s);
      const a0 = args[0];
      if (n === 1) return callOp(id, 1 | tensorBit(a0, 1), s, handleOf(a0));
      const a1 = args[1];
      if (n === 2) return callOp(id, 1 | tensorBit(a0, 1) | tensorBit(a1, 2), s, handleOf(a0), handleOf(a1));
    }
  }
  const hs: unknown[] = [];
  let mask = 0;
  for (let i = self === NO_SELF ? 0 : -1; i < n; i++) {
    const a = i < 0 ? self : args[i];
    // Past the mask's 32 bits a Tensor goes as itself; native code reads its handle.
    if (hs.length < 32) {
      mask |= tensorBit(a, hs.length);
      hs.push(handleOf(a));
    } else {
      hs.push(a);
    }
  }
  return kwargs === undefined ? callOp(id, mask, ...hs) : callOpKw(id, mask, kwargs, ...hs);
}

function invoke(id: number, self: Self, args: unknown[]): unknown {
  let n = args.length;
  let kwargs: Record<string, unknown> | undefined;
  if (n > 0 && isKwargs(args[n - 1])) kwargs = args[--n] as Record<string, unknown>;
  if (kwargs === undefined || kwargs.requires_grad === undefined) return result(call(id, kwargs, self, args, n), self, args, n);
  // Factory functions take requires_grad in Python's binding, not in the op schema.
  const { requires_grad, ...rest } = kwargs;
  const out = result(call(id, rest, self, args, n), self, args, n);
  native.setRequiresGrad(out as { _h: never }, Boolean(requires_grad));
  return out;
}

/** An op's set id, resolved on first use, so importing thousands of ops costs nothing. */
function resolver(name: string): () => number {
  let id = -2;
  return () => {
    if (id === -2) {
      id = native.resolveOp(name);
      if (id < 0) throw new TypeError(`${name} is not an operator this build of libtorch can call`);
    }
    return id;
  };
}

/** A caller of `torch.<op>(...args)`. */
export function op(name: string): (args: unknown[]) => unknown {
  const id = resolver(name);
  return (args: unknown[]) => invoke(id(), NO_SELF, args);
}

/** A caller of `self.<op>(...args)`: like op(name) with `self` first, without building that array. */
export function methodOp(name: string): (self: object, args: unknown[]) => unknown {
  const id = resolver(name);
  return (self: object, args: unknown[]) => invoke(id(), self, args);
}
