// The `torch` namespace: generated ATen functions, then the hand-written surface (which wins
// where names meet).
import "./errors.js";
import "./indexing.js";
import * as autograd from "./autograd/index.js";
import * as cpu from "./cpu.js";
import * as cuda from "./cuda.js";
import * as indexing from "./indexing.js";

export * from "./_generated/functions.js";
export { Tensor, type GradFn, type RemovableHandle, type ToOptions } from "./tensor.js";
export {
  dtype,
  uint8,
  int8,
  int16,
  int32,
  int64,
  float16,
  float32,
  float64,
  complex64,
  complex128,
  bfloat16,
  bool,
  short,
  int,
  long,
  half,
  float,
  double,
  cfloat,
  cdouble,
} from "./dtype.js";
export { OutOfMemoryError } from "./errors.js";
export { device, type DeviceLike } from "./device.js";
export { Generator, manual_seed, initial_seed, default_generator, get_rng_state, set_rng_state } from "./generator.js";
export { tensor, as_tensor, full, type TensorData, type TensorOptions } from "./creation.js";
export { get_default_dtype, set_default_dtype } from "./dtype.js";
export { strided, contiguous_format, preserve_format, channels_last, type Scalar, type Layout, type MemoryFormat } from "./types.js";
export {
  no_grad,
  enable_grad,
  set_grad_enabled,
  is_grad_enabled,
  inference_mode,
  is_inference_mode_enabled,
} from "./autograd/grad_mode.js";
export { scope } from "./memory.js";
export { Slice, Ellipsis } from "./indexing.js";
export { autograd, cpu, cuda, indexing };
export { native as _C } from "./_native.js";
export { get_num_threads, set_num_threads, version } from "./runtime.js";
export * as backends from "./backends/index.js";
export * as utils from "./utils/index.js";
export * as nn from "./nn/index.js";
export * as distributed from "./distributed/index.js";
export * as optim from "./optim/index.js";
export { save, load } from "./serialization/index.js";
export * as serialization from "./serialization/index.js";
export * as amp from "./amp/index.js";
export { autocast } from "./autocast.js";
export * as moreh from "./moreh.js";
