// The `device=` and `dtype=` keyword arguments that PyTorch's layers pass to their torch.empty calls.
import type { dtype } from "../../dtype.js";
import type { DeviceLike } from "../../device.js";
import type { Tensor } from "../../tensor.js";
import { empty } from "../../_generated/functions.js";
import { Parameter } from "../parameter.js";
import { argTypeName } from "../../_type_name.js";
import type { OptionNames } from "../../_options.js";

export interface FactoryOptions {
  device?: DeviceLike | null;
  dtype?: dtype | null;
}

/** The factory option names, for a layer's own option names to spread in. */
export const FACTORY_OPTIONS: OptionNames<FactoryOptions> = { device: true, dtype: true };

/** An uninitialised Parameter, as `Parameter(torch.empty(shape, **factory_kwargs))`. */
export function emptyParameter(shape: number[], { device = null, dtype = null }: FactoryOptions): Parameter {
  return new Parameter(empty(shape, { device, dtype }) as Tensor);
}

/** A layer's integer size argument (`in_features`, `num_embeddings`, ...), checked as Python's `int`. */
export function intArg(layer: string, name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v)) throw new TypeError(`${layer}: argument '${name}' must be int, not ${argTypeName(v)}`);
  return v;
}

/** A layer's shape argument (`normalized_shape`): an integer or a list of integers. */
export function shapeArg(layer: string, name: string, v: unknown): number[] {
  const shape: unknown[] | null = typeof v === "number" ? [v] : Array.isArray(v) ? [...(v as unknown[])] : null;
  if (shape === null || !shape.every((d) => Number.isInteger(d))) {
    throw new TypeError(
      `${layer}: argument '${name}' must be int or List[int], not ${Array.isArray(v) ? "a list holding non-integers" : argTypeName(v)}`,
    );
  }
  return shape as number[];
}
