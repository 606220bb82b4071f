// Tensor memory as bytes, both ways, shared by torch.save/load and safetensors: file bytes are read
// straight into a new tensor's memory (one copy, from the page cache), and a tensor's whole storage
// is viewed (not copied) when it already is on the CPU.
import { native } from "../_native.js";
import { Tensor } from "../tensor.js";
import { empty } from "../_generated/functions.js";
import { uint8, type dtype } from "../dtype.js";

/** The bytes of a contiguous CPU tensor, without copying (copied first otherwise). */
export function tensorBytes(t: Tensor): Uint8Array {
  return new Uint8Array(native.bytesView(t.detach()));
}

/** All bytes of the storage under `t` (every view of it sees the same ones), as PyTorch saves them. */
export function storageBytes(t: Tensor): Uint8Array {
  const [, nbytes] = native.storageInfo(t);
  const numel = Math.floor(nbytes / t.dtype.itemsize);
  return tensorBytes(t.detach().as_strided([numel], [1], 0));
}

/**
 * A new 1-D uint8 CPU tensor holding `nbytes` bytes of `fd` from `position`; `where` names the
 * data in the error when the file is shorter than promised.
 */
export function readBytesTensor(fd: number, position: number, nbytes: number, where: string): Tensor {
  const t = empty([nbytes], { dtype: uint8 });
  if (nbytes === 0) return t;
  const got = native.readInto(t._h, fd, position);
  if (got !== nbytes) throw new Error(`${where}: file ends ${nbytes - got} bytes early (truncated)`);
  return t;
}

/** The most dimensions a loaded tensor may have (NumPy's NPY_MAXDIMS): more is a hostile or broken file. */
export const MAX_DIMS = 64;

/** Row-major strides of `shape`, in one pass (a file may hold a shape of any length). */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = shape.map(() => 1);
  for (let d = shape.length - 2; d >= 0; d--) strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

/** A tensor of `dt` viewing `storage` (a 1-D uint8 tensor) at an element offset, size and stride. */
export function viewStorage(storage: Tensor, dt: dtype, offset: number, size: readonly number[], stride: readonly number[]): Tensor {
  return empty([0], { dtype: dt, device: storage.device }).set_(storage, offset, [...size], [...stride]);
}

/** Checks that a view stays inside a storage of `numel` elements; returns a problem or null. */
export function viewProblem(numel: number, offset: number, size: readonly number[], stride: readonly number[]): string | null {
  if (!Number.isSafeInteger(offset) || offset < 0) return `storage offset ${offset} is not a non-negative integer`;
  if (size.length !== stride.length) return `size ${JSON.stringify(size)} and stride ${JSON.stringify(stride)} differ in length`;
  if (size.length > MAX_DIMS) return `a size of ${size.length} dimensions is more than the ${MAX_DIMS} a tensor may have`;
  let last = offset;
  for (let i = 0; i < size.length; i++) {
    if (!Number.isSafeInteger(size[i]) || size[i] < 0) return `size ${JSON.stringify(size)} is not a list of non-negative integers`;
    if (!Number.isSafeInteger(stride[i]) || stride[i] < 0) return `stride ${JSON.stringify(stride)} is not a list of non-negative integers`;
    if (size[i] === 0) return null;
    last += (size[i] - 1) * stride[i];
  }
  if (!Number.isSafeInteger(last) || last >= numel) {
    return `a view of size ${JSON.stringify(size)}, stride ${JSON.stringify(stride)} at offset ${offset} needs more than the storage's ${numel} elements`;
  }
  return null;
}
