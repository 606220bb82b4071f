// Tensor creation that a schema cannot express: torch.tensor from JS data, and the dtype rule for
// JS numbers. JS cannot tell 1 from 1.0, so plain numbers make tensors of the default (float)
// dtype; bigints (or a BigInt64Array, or {dtype}) make int64, booleans make bool.
import { RuntimeError, ValueError } from "./errors.js";
import { native } from "./_native.js";
import * as aten from "./_generated/functions.js";
import { Tensor } from "./tensor.js";
import {
  bfloat16,
  bool,
  dtype,
  dtypeFromId,
  float16,
  float32,
  float64,
  get_default_dtype,
  int16,
  int32,
  int64,
  int8,
  uint8,
} from "./dtype.js";
import type { DeviceLike } from "./device.js";
import type { Scalar } from "./types.js";
import { checkOptions, type OptionNames } from "./_options.js";

export type TensorData = number | boolean | bigint | TensorData[] | ArrayBufferView;

export interface TensorOptions {
  dtype?: dtype;
  device?: DeviceLike;
  requires_grad?: boolean;
}

const TENSOR_OPTIONS: OptionNames<TensorOptions> = { dtype: true, device: true, requires_grad: true };

function typedArrayDtype(a: ArrayBufferView): dtype {
  if (a instanceof Float32Array) return float32;
  if (a instanceof Float64Array) return float64;
  if (a instanceof BigInt64Array) return int64;
  if (a instanceof Int32Array) return int32;
  if (a instanceof Int16Array) return int16;
  if (a instanceof Int8Array) return int8;
  if (a instanceof Uint8Array || a instanceof Uint8ClampedArray) return uint8;
  throw new TypeError(`torch.tensor: unsupported TypedArray ${a.constructor.name}`);
}

// Walks nested arrays: their shape (checked rectangular, as PyTorch does) and flat leaves.
function flatten(data: TensorData, shape: number[], out: (number | boolean | bigint)[], depth: number): void {
  if (Array.isArray(data)) {
    if (depth === shape.length) shape.push(data.length);
    else if (shape[depth] !== data.length) {
      throw new ValueError(`torch.tensor: expected sequence of length ${shape[depth]} at dim ${depth} (got ${data.length})`);
    }
    for (const d of data) flatten(d, shape, out, depth + 1);
    return;
  }
  if (depth !== shape.length) throw new ValueError(`torch.tensor: ragged nested sequence at dim ${depth}`);
  if (ArrayBuffer.isView(data)) throw new TypeError("torch.tensor: a TypedArray cannot be nested inside arrays");
  if (typeof data !== "number" && typeof data !== "boolean" && typeof data !== "bigint") {
    throw new TypeError(`torch.tensor: could not infer dtype of ${typeof data}`);
  }
  out.push(data);
}

// The common case, nested arrays of plain numbers for a floating dtype, written straight into a
// Float64Array: its shape from the first element at each depth, every array checked against it.
// null when the data is anything else (booleans, bigints, ragged, bad leaves): flatten() then
// handles it, with its errors.
function numbersToFloat64(data: TensorData): { shape: number[]; values: Float64Array } | null {
  const shape: number[] = [];
  for (let d: unknown = data; Array.isArray(d); d = d.length > 0 ? d[0] : undefined) shape.push(d.length);
  const values = new Float64Array(shape.reduce((a, b) => a * b, 1));
  let pos = 0;
  const fill = (d: unknown, depth: number): boolean => {
    if (depth === shape.length) {
      if (typeof d !== "number") return false;
      values[pos++] = d;
      return true;
    }
    if (!Array.isArray(d) || d.length !== shape[depth]) return false;
    if (depth === shape.length - 1) {
      for (let i = 0; i < d.length; i++) {
        const v: unknown = d[i];
        if (typeof v !== "number") return false;
        values[pos++] = v;
      }
      return true;
    }
    for (let i = 0; i < d.length; i++) if (!fill(d[i], depth + 1)) return false;
    return true;
  };
  return fill(data, 0) ? { shape, values } : null;
}

// Finite and inside int64's range (NaN is not), where truncating to int64 is defined.
function fitsInt64(v: number): boolean {
  return Math.abs(v) < 2 ** 63;
}

// Truncates toward zero, as Python's int(); outside int64's range it fails as Python's torch.tensor does.
function toInt64(v: number): bigint {
  if (!fitsInt64(v)) throw new RuntimeError(`torch.tensor: value ${v} cannot be converted to type int64 without overflow`);
  return BigInt(Math.trunc(v));
}

function buffer(values: (number | boolean | bigint)[], d: dtype): ArrayBufferView {
  const num = (v: number | boolean | bigint) => Number(v);
  switch (d) {
    case float64:
      return Float64Array.from(values, num);
    case int64:
      return BigInt64Array.from(values, (v) => (typeof v === "bigint" ? v : toInt64(Number(v))));
    case int32:
      return Int32Array.from(values, num);
    case int16:
      return Int16Array.from(values, num);
    case int8:
      return Int8Array.from(values, num);
    case uint8:
      return Uint8Array.from(values, num);
    case bool:
      return Uint8Array.from(values, (v) => (Number(v) !== 0 ? 1 : 0));
    default:
      return Float32Array.from(values, num);
  }
}

/** torch.tensor: a new tensor holding a copy of `data`. */
export function tensor(data: TensorData | Tensor, options: TensorOptions = {}): Tensor {
  checkOptions("tensor", options, TENSOR_OPTIONS);
  let t: Tensor;
  if (data instanceof Tensor) {
    t = data.detach().clone();
    if (options.dtype) t = t.to(options.dtype);
  } else if (ArrayBuffer.isView(data) && !(data instanceof DataView)) {
    const src = typedArrayDtype(data);
    t = native.fromBytes(data, src, [(data as unknown as ArrayLike<unknown>).length]) as Tensor;
    if (options.dtype && options.dtype !== src) t = t.to(options.dtype);
  } else {
    const requested = options.dtype ?? get_default_dtype();
    const numbers = requested.is_floating_point || requested === int64 ? numbersToFloat64(data) : null;
    // int64 from doubles truncates toward zero, as BigInt(Math.trunc(v)) does, for every finite
    // value inside int64's range; anything else takes the general path and its errors.
    if (numbers !== null && (requested !== int64 || numbers.values.every(fitsInt64))) {
      // float32 values rounded once, from the doubles, as Float32Array.from does; half types via float32.
      const wide = requested === float64 || requested === int64;
      t = native.fromBytes(wide ? numbers.values : new Float32Array(numbers.values), wide ? float64 : float32, numbers.shape) as Tensor;
      return finish(t.dtype === requested ? t : t.to(requested), options);
    }
    const shape: number[] = [];
    const values: (number | boolean | bigint)[] = [];
    flatten(data, shape, values, 0);
    const inferred = values.some((v) => typeof v === "boolean")
      ? bool
      : values.some((v) => typeof v === "bigint")
        ? int64
        : get_default_dtype();
    const target = options.dtype ?? inferred;
    // Half types have no TypedArray: build in float32 and convert.
    const staging = target === float16 || target === bfloat16 || target.is_complex ? float32 : target;
    t = native.fromBytes(buffer(values, staging), staging, shape) as Tensor;
    if (staging !== target) t = t.to(target);
  }
  return finish(t, options);
}

function finish(t: Tensor, options: TensorOptions): Tensor {
  if (options.device !== undefined) t = t.to(String(options.device));
  if (options.requires_grad) t.requires_grad_(true);
  return t;
}

/** torch.as_tensor: `data` itself when it already is a tensor of the requested dtype and device. */
export function as_tensor(data: TensorData | Tensor, options: Omit<TensorOptions, "requires_grad"> = {}): Tensor {
  checkOptions("as_tensor", options, { dtype: true, device: true });
  if (data instanceof Tensor) {
    return data.to({ dtype: options.dtype ?? data.dtype, device: options.device ?? data.device });
  }
  return tensor(data, options);
}

/** torch.full; a number fill makes a default-dtype tensor (see the dtype rule above). */
export function full(size: number[], fill_value: Scalar, options: TensorOptions = {}): Tensor {
  checkOptions("full", options, TENSOR_OPTIONS);
  const d = options.dtype ?? (typeof fill_value === "boolean" ? bool : typeof fill_value === "bigint" ? int64 : get_default_dtype());
  const t = aten.full(size, fill_value, { dtype: d, device: options.device === undefined ? undefined : String(options.device) });
  if (options.requires_grad) t.requires_grad_(true);
  return t;
}
