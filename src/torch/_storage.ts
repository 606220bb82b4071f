// Storage-level operations that FSDP-style code needs below the tensor: freeing the memory of a
// gathered flat parameter while autograd still holds views of it, and reading how much is held.
import { native } from "./_native.js";
import type { Tensor } from "./tensor.js";

/**
 * Resizes `t`'s storage in place to `nbytes` bytes, as PyTorch's
 * `torch.ops.inductor.resize_storage_bytes_`: 0 frees its memory, a larger size allocates fresh
 * memory (keeping the first min(old, new) bytes). Sizes and strides stay as they are, so every
 * view of the storage reads the new memory. As in PyTorch, nothing checks a view against its
 * storage's size: reading one past the end (any read of a freed storage) before growing it back
 * reads invalid memory and can crash the process. Throws for a storage that is not resizable, such
 * as one a `typed_array()` view pins.
 */
export function _resize_storage_bytes_(t: Tensor, nbytes: number): void {
  if (!Number.isSafeInteger(nbytes) || nbytes < 0)
    throw new RangeError(`_resize_storage_bytes_: nbytes must be a non-negative integer, got ${nbytes}`);
  native.resizeStorage(t._h, nbytes);
}

/** The size in bytes of `t`'s storage (PyTorch's `t.untyped_storage().nbytes()`). */
export function _storage_nbytes(t: Tensor): number {
  return native.storageInfo(t._h)[1];
}
