// torch.dtype objects. Each carries libtorch's ScalarType number (`_id`), which is how native code
// receives a dtype argument.
import { native } from "./_native.js";

export class dtype {
  constructor(
    readonly name: string,
    readonly _id: number,
    readonly itemsize: number,
    readonly is_floating_point: boolean,
    readonly is_complex: boolean,
    readonly is_signed: boolean,
  ) {
    Object.freeze(this);
  }
  toString(): string {
    return `torch.${this.name}`;
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

export const uint8 = new dtype("uint8", 0, 1, false, false, false);
export const int8 = new dtype("int8", 1, 1, false, false, true);
export const int16 = new dtype("int16", 2, 2, false, false, true);
export const int32 = new dtype("int32", 3, 4, false, false, true);
export const int64 = new dtype("int64", 4, 8, false, false, true);
export const float16 = new dtype("float16", 5, 2, true, false, true);
export const float32 = new dtype("float32", 6, 4, true, false, true);
export const float64 = new dtype("float64", 7, 8, true, false, true);
export const complex64 = new dtype("complex64", 9, 8, false, true, true);
export const complex128 = new dtype("complex128", 10, 16, false, true, true);
export const bool = new dtype("bool", 11, 1, false, false, false);
export const bfloat16 = new dtype("bfloat16", 15, 2, true, false, true);

// PyTorch's aliases are the same objects.
export const short = int16;
export const int = int32;
export const long = int64;
export const half = float16;
export const float = float32;
export const double = float64;
export const cfloat = complex64;
export const cdouble = complex128;

const byId = new Map<number, dtype>(
  [uint8, int8, int16, int32, int64, float16, float32, float64, complex64, complex128, bool, bfloat16].map((d) => [d._id, d]),
);

export function dtypeFromId(id: number): dtype {
  const d = byId.get(id);
  if (d === undefined) throw new TypeError(`unsupported dtype (ScalarType ${id})`);
  return d;
}

export function get_default_dtype(): dtype {
  return dtypeFromId(native.getDefaultDtype());
}

export function set_default_dtype(d: dtype): void {
  native.setDefaultDtype(d);
}
