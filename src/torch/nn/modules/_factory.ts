// The `device=` and `dtype=` keyword arguments that PyTorch's layers pass to their torch.empty calls.
import type { dtype } from "../../dtype.js";
import type { DeviceLike } from "../../device.js";
import type { Tensor } from "../../tensor.js";
import { empty } from "../../_generated/functions.js";
import { Parameter } from "../parameter.js";

export interface FactoryOptions {
  device?: DeviceLike | null;
  dtype?: dtype | null;
}

/** An uninitialised Parameter, as `Parameter(torch.empty(shape, **factory_kwargs))`. */
export function emptyParameter(shape: number[], { device = null, dtype = null }: FactoryOptions): Parameter {
  return new Parameter(empty(shape, { device, dtype }) as Tensor);
}
