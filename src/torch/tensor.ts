// torch.Tensor: the hand-written part (attributes, conversions, autograd entry points). The ATen
// methods — add, matmul, view, sum, ... — are generated from the op schemas into
// _generated/tensor_methods.ts and added to this class's prototype.
import { IndexError } from "./errors.js";
import { inspect } from "node:util";
import { native, type NativeHandle } from "./_native.js";
import { setTensorWrapper } from "./_invoke.js";
import { dropCallback, registerCallback } from "./_callbacks.js";
import { backward, type BackwardOptions } from "./autograd/engine.js";
import { dtype, dtypeFromId, bfloat16, bool, float16, float32, float64, int16, int32, int64, int8, uint8 } from "./dtype.js";
import { device, deviceOf, type DeviceLike } from "./device.js";
import { adopt } from "./memory.js";
import { formatTensor } from "./printing.js";
import { argTypeName, typeName } from "./_type_name.js";
import type { MemoryFormat } from "./types.js";
import { checkOptions, type OptionNames } from "./_options.js";
import { tensorMethodPrototypes } from "./_generated/tensor_methods.js";
import * as aten from "./_generated/functions.js";
import { _cuda_is_the_cpu } from "./moreh.js";

/** The object returned by `tensor.grad_fn`: the autograd node that produced the tensor. */
export interface GradFn {
  name(): string;
}

export interface RemovableHandle {
  remove(): void;
}

/** Keyword arguments of `Tensor.to`. */
export interface ToOptions {
  dtype?: dtype;
  device?: DeviceLike;
  non_blocking?: boolean;
  copy?: boolean;
}

const TO_OPTIONS: OptionNames<ToOptions> = { dtype: true, device: true, non_blocking: true, copy: true };

function checkedTo(o: ToOptions): ToOptions {
  checkOptions("to", o, TO_OPTIONS);
  return o;
}

type NestedArray = number | boolean | NestedArray[];

export type TypedArrayOf = Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array;

// structuredClone (and postMessage, v8.serialize) copies a class instance's own fields into a plain
// object: a tensor's would carry its handle, an alias that ops accept as the original. A symbol can
// not be cloned, so a field holding one makes every such copy throw, and its text says why and what
// to do instead.
const NOT_CLONEABLE = Symbol(
  "a tessera Tensor cannot be structured-cloned or serialized (it is a handle to native memory, and the copy would alias it): copy it with tensor.clone(), or send tensor.tolist() or tensor.typed_array()",
);

export class Tensor {
  /**
   * The native handle; it owns one reference to the libtorch tensor. Not enumerable, so that
   * `{ ...t }` and `Object.assign({}, t)` copy no handle: such a "copy" is refused by every op
   * instead of aliasing the original.
   */
  declare readonly _h: NativeHandle;
  /** Makes structuredClone of a tensor throw (see NOT_CLONEABLE). */
  private readonly _noClone = NOT_CLONEABLE;

  /** Takes ownership of `h`, a new handle that a native call returned (never another Tensor's). */
  constructor(h: NativeHandle) {
    Object.defineProperty(this, "_h", { value: h });
    adopt(this, h);
  }

  // ---- attributes -------------------------------------------------------------------------

  /** `torch.Size` in PyTorch; a plain array of numbers here. */
  get shape(): number[] {
    return native.shape(this._h);
  }

  size(dim?: null): number[];
  size(dim: number): number;
  size(dim?: number | null): number[] | number {
    const s = native.shape(this._h);
    return dim === undefined || dim === null ? s : s[shapeIndex(dim, s.length, "size")];
  }

  stride(dim?: null): number[];
  stride(dim: number): number;
  stride(dim?: number | null): number[] | number {
    const s = native.strides(this._h);
    return dim === undefined || dim === null ? s : s[shapeIndex(dim, s.length, "stride")];
  }

  dim(): number {
    return native.dim(this._h);
  }

  get ndim(): number {
    return native.dim(this._h);
  }

  numel(): number {
    return native.numel(this._h);
  }

  nelement(): number {
    return native.numel(this._h);
  }

  element_size(): number {
    return this.dtype.itemsize;
  }

  storage_offset(): number {
    return native.storageOffset(this._h);
  }

  is_contiguous(): boolean {
    return native.isContiguous(this._h);
  }

  get dtype(): dtype {
    return dtypeFromId(native.dtype(this._h));
  }

  get device(): device {
    return deviceOf(native.device(this._h));
  }

  get is_cuda(): boolean {
    return native.device(this._h).startsWith("cuda");
  }

  // ---- autograd -----------------------------------------------------------------------------

  get requires_grad(): boolean {
    return native.requiresGrad(this._h);
  }

  set requires_grad(value: boolean) {
    native.setRequiresGrad(this._h, value);
  }

  requires_grad_(requires_grad = true): this {
    native.setRequiresGrad(this._h, requires_grad);
    return this;
  }

  get grad(): Tensor | null {
    const g = native.grad(this._h);
    return g === null ? null : new Tensor(g);
  }

  set grad(g: Tensor | null) {
    if (g !== null && !(g instanceof Tensor)) throw new TypeError(`assigned grad must be a Tensor or null, got ${typeName(g)}`);
    native.setGrad(this._h, g === null ? null : g._h);
  }

  get is_leaf(): boolean {
    return native.isLeaf(this._h);
  }

  get grad_fn(): GradFn | null {
    const name = native.gradFnName(this._h);
    return name === null ? null : { name: () => name };
  }

  /** The same memory without autograd history (PyTorch's `.data`). */
  get data(): Tensor {
    return new Tensor(native.data(this._h));
  }

  set data(value: Tensor) {
    if (!(value instanceof Tensor)) throw new TypeError(`assigned data must be a Tensor, got ${typeName(value)}`);
    native.setData(this._h, value._h);
  }

  retain_grad(): void {
    native.retainGrad(this._h);
  }

  backward(gradient?: Tensor | null, options: Omit<BackwardOptions, "grad_tensors"> = {}): void {
    checkOptions("Tensor.backward", options, { retain_graph: true, create_graph: true, inputs: true });
    backward(this, { ...options, grad_tensors: gradient ?? null });
  }

  /** Calls `hook(grad)` when the gradient is computed; a returned tensor replaces the gradient. */
  register_hook(hook: (grad: Tensor) => Tensor | null | undefined | void): RemovableHandle {
    if (typeof hook !== "function") throw new TypeError(`register_hook: hook must be a function, got ${typeName(hook)}`);
    const id = registerCallback(hookCallback(hook));
    let pos: number;
    try {
      pos = native.registerHook(this._h, id);
    } catch (e) {
      dropCallback(id);
      throw e;
    }
    return { remove: () => native.removeHook(this._h, pos) };
  }

  // ---- conversions --------------------------------------------------------------------------

  /**
   * `to(dtype)`, `to(device)`, `to(device, dtype)`, `to(other)`, or `to({dtype, device, copy,
   * non_blocking})`, as in PyTorch.
   */
  to(target: dtype | DeviceLike | Tensor | ToOptions, dtypeOrOptions?: dtype | ToOptions, options?: ToOptions): Tensor {
    const o: ToOptions = {};
    if (target instanceof Tensor) {
      o.dtype = target.dtype;
      o.device = target.device;
    } else if (target instanceof dtype) {
      o.dtype = target;
    } else if (typeof target === "string" || target instanceof device) {
      o.device = target;
    } else {
      Object.assign(o, checkedTo(target));
    }
    if (dtypeOrOptions instanceof dtype) o.dtype = dtypeOrOptions;
    else if (dtypeOrOptions !== undefined) Object.assign(o, checkedTo(dtypeOrOptions));
    if (options !== undefined) Object.assign(o, checkedTo(options));
    return aten.to(this, {
      dtype: o.dtype,
      device: o.device === undefined ? undefined : String(o.device),
      non_blocking: o.non_blocking ?? false,
      copy: o.copy ?? false,
    });
  }

  /** The tensor on a CUDA device; under Advanced Parallelization without CUDA, the job's device (the CPU): itself. */
  cuda(index?: number): Tensor {
    if (_cuda_is_the_cpu()) return this;
    return this.to(index === undefined ? "cuda" : `cuda:${index}`);
  }

  cpu(): Tensor {
    return this.to("cpu");
  }

  float(): Tensor {
    return this.to(float32);
  }

  double(): Tensor {
    return this.to(float64);
  }

  half(): Tensor {
    return this.to(float16);
  }

  bfloat16(): Tensor {
    return this.to(bfloat16);
  }

  long(): Tensor {
    return this.to(int64);
  }

  int(): Tensor {
    return this.to(int32);
  }

  short(): Tensor {
    return this.to(int16);
  }

  char(): Tensor {
    return this.to(int8);
  }

  byte(): Tensor {
    return this.to(uint8);
  }

  bool(): Tensor {
    return this.to(bool);
  }

  type(t: dtype): Tensor {
    return this.to(t);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    return native.item(this._h) as number;
  }

  /**
   * The elements as a TypedArray of the tensor's dtype (BigInt64Array for int64; raw Uint16Array
   * bits for float16/bfloat16; Uint8Array for bool). For a contiguous CPU tensor this is a view of
   * the tensor's memory (writes show through), and the tensor can no longer grow with resize_, as
   * after Python's `numpy()`; otherwise a copy.
   */
  typed_array(): TypedArrayOf {
    return typedView(this, native.bytesView(this._h, true));
  }

  /** Nested arrays of numbers (booleans for bool tensors), as Python's `tolist()`. */
  tolist(): NestedArray {
    let t: Tensor = this;
    if (t.dtype === float16 || t.dtype === bfloat16) t = t.to(float32);
    // A copy the GC owns, not a view: a view's finalizer waits for the event loop (native.bytesCopy).
    const row = rowReader(typedView(t, native.bytesCopy(t._h)), t.dtype === bool);
    const shape = t.shape;
    if (shape.length === 0) return row(0, 1)[0];
    const last = shape[shape.length - 1];
    let pos = 0;
    const build = (d: number): NestedArray[] => {
      if (d === shape.length - 1) {
        pos += last;
        return row(pos - last, last);
      }
      const out = new Array<NestedArray>(shape[d]);
      for (let i = 0; i < shape[d]; i++) out[i] = build(d + 1);
      return out;
    };
    return build(0);
  }

  /**
   * Python's `resize_(*sizes)`. A storage that cannot grow (a `typed_array()` view shares it, as
   * NumPy shares a tensor's memory after `numpy()`) makes it throw, and the tensor stays as it was,
   * where libtorch would leave it claiming the new size over the old memory.
   */
  resize_(...size: (number | number[] | { memory_format?: MemoryFormat | null })[]): this {
    const before = [this.shape, this.stride(), this.storage_offset()] as const;
    try {
      const last = size.at(-1);
      const opts = last !== undefined && typeof last === "object" && !Array.isArray(last) ? last : {};
      const dims = (opts === last ? size.slice(0, -1) : size) as (number | number[])[];
      aten.resize_(this, dims.length === 1 && Array.isArray(dims[0]) ? dims[0] : (dims as number[]), opts);
    } catch (e) {
      aten.as_strided_(this, before[0], before[1], before[2]);
      throw e;
    }
    return this;
  }

  /** Frees this tensor's native memory now instead of at garbage collection. */
  dispose(): void {
    native.dispose(this._h);
  }

  get is_disposed(): boolean {
    return native.isDisposed(this._h);
  }

  toString(): string {
    return formatTensor(this);
  }

  [inspect.custom](): string {
    return formatTensor(this);
  }
}

// The ATen methods, below the hand-written ones; linked before any tensor exists, so that V8 keeps
// the chain in fast mode (_generated/tensor_methods.ts says why it is a chain).
Object.setPrototypeOf(Tensor.prototype, tensorMethodPrototypes(Object.getPrototypeOf(Tensor.prototype) as object));

// Built outside the method on purpose: a closure created inside register_hook would share that
// method's context (and `this`), so the registry would keep the tensor alive, and the tensor keeps
// the hook: a cycle through a GC root that no collection could free.
function hookCallback(hook: (grad: Tensor) => Tensor | null | undefined | void): (tensors: unknown[]) => unknown {
  return (tensors) => {
    const r: unknown = hook(tensors[0] as Tensor);
    if (r === undefined || r === null || r instanceof Tensor) return r ?? null;
    throw new TypeError(`a tensor hook returned a value of type ${typeName(r)}; expected a Tensor or null`);
  };
}

// A TypedArray of `t`'s dtype over `buf` (raw Uint16Array bits for float16/bfloat16, Uint8Array for bool).
function typedView(t: Tensor, buf: ArrayBuffer): TypedArrayOf {
  switch (t.dtype) {
    case float32:
      return new Float32Array(buf);
    case float64:
      return new Float64Array(buf);
    case int64:
      return new BigInt64Array(buf);
    case int32:
      return new Int32Array(buf);
    case int16:
      return new Int16Array(buf);
    case int8:
      return new Int8Array(buf);
    case float16:
    case bfloat16:
      return new Uint16Array(buf);
    default:
      return new Uint8Array(buf);
  }
}

// Reads `n` elements from `start` as JS values: one loop per element type, so each stays monomorphic.
function rowReader(flat: TypedArrayOf, isBool: boolean): (start: number, n: number) => (number | boolean)[] {
  if (isBool) {
    return (start, n) => {
      const out = new Array<boolean>(n);
      for (let i = 0; i < n; i++) out[i] = flat[start + i] !== 0;
      return out;
    };
  }
  if (flat instanceof BigInt64Array) {
    return (start, n) => {
      const out = new Array<number>(n);
      for (let i = 0; i < n; i++) out[i] = Number(flat[start + i]);
      return out;
    };
  }
  const numbers = flat as Exclude<TypedArrayOf, BigInt64Array>;
  return (start, n) => {
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = numbers[start + i];
    return out;
  };
}

// size(dim) and stride(dim) as PyTorch checks them, with its messages: unlike an op's dim argument,
// no dim fits a 0-dim tensor.
function shapeIndex(dim: unknown, ndim: number, what: string): number {
  if (typeof dim !== "number" || !Number.isInteger(dim)) {
    throw new TypeError(`${what}(): argument 'dim' (position 1) must be int, not ${argTypeName(dim)}`);
  }
  if (ndim === 0) throw new IndexError(`Dimension specified as ${dim} but tensor has no dimensions`);
  if (dim < -ndim || dim >= ndim)
    throw new IndexError(`Dimension out of range (expected to be in range of [${-ndim}, ${ndim - 1}], but got ${dim})`);
  return dim < 0 ? dim + ndim : dim;
}

native.setTensorClass(Tensor as unknown as new (h: NativeHandle) => object);
setTensorWrapper((h) => new Tensor(h));
