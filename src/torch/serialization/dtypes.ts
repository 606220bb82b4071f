// The names that files use for dtypes: PyTorch's legacy storage classes (in pickles) and
// safetensors' dtype strings.
import {
  bfloat16,
  bool,
  complex128,
  complex64,
  float16,
  float32,
  float64,
  int16,
  int32,
  int64,
  int8,
  uint8,
  type dtype,
} from "../dtype.js";

const table: [dtype, string, string | null][] = [
  [float32, "FloatStorage", "F32"],
  [float64, "DoubleStorage", "F64"],
  [float16, "HalfStorage", "F16"],
  [bfloat16, "BFloat16Storage", "BF16"],
  [int64, "LongStorage", "I64"],
  [int32, "IntStorage", "I32"],
  [int16, "ShortStorage", "I16"],
  [int8, "CharStorage", "I8"],
  [uint8, "ByteStorage", "U8"],
  [bool, "BoolStorage", "BOOL"],
  [complex64, "ComplexFloatStorage", "C64"],
  [complex128, "ComplexDoubleStorage", null],
];

export const storageClassOf = new Map(table.map(([d, s]) => [d, s]));
export const dtypeOfStorageClass = new Map(table.map(([d, s]) => [s, d]));
export const safetensorsNameOf = new Map(table.flatMap(([d, , n]) => (n === null ? [] : [[d, n] as const])));
export const dtypeOfSafetensorsName = new Map(table.flatMap(([d, , n]) => (n === null ? [] : [[n, d] as const])));
