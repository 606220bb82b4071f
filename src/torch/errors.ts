// Python's exception classes, so that callers tell errors apart by class as PyTorch's callers do
// (`catch (e) { if (e instanceof torch.OutOfMemoryError) ... }`), not by message text.
//
// The one rule: each class extends JS's nearest built-in — Python's TypeError *is* JS's TypeError;
// ValueError and IndexError extend RangeError; RuntimeError extends Error; NotImplementedError and
// OutOfMemoryError extend RuntimeError, as they do in Python. The native addon throws these for
// c10's exception types (c10::ValueError → ValueError, c10::OutOfMemoryError → OutOfMemoryError,
// any other c10::Error → RuntimeError), with Python's messages.
import { native } from "./_native.js";

/** Python's RuntimeError: what libtorch's c10::Error becomes. */
export class RuntimeError extends Error {
  override name = "RuntimeError";
}

/** Python's ValueError: a value of the right type that is not allowed. */
export class ValueError extends RangeError {
  override name = "ValueError";
}

/** Python's IndexError: an index or dimension out of range. */
export class IndexError extends RangeError {
  override name = "IndexError";
}

/** Python's NotImplementedError: an abstract method, or an option or case tessera does not support. */
export class NotImplementedError extends RuntimeError {
  override name = "NotImplementedError";
}

/** `torch.OutOfMemoryError`: an allocator ran out of device memory. */
export class OutOfMemoryError extends RuntimeError {
  override name = "OutOfMemoryError";
}

native.setErrorClasses({ RuntimeError, ValueError, IndexError, NotImplementedError, OutOfMemoryError });
