// torch.utils.data.default_collate / default_convert: samples -> one batch, by element type, as
// Python's (tensors are stacked; numbers become a tensor; objects and arrays recurse). JS rule for
// numbers, since JS cannot tell 1 from 1.0: a batch of integral numbers gives int64 (Python's int),
// any other gives float64 (Python's float); bigints give int64 and booleans bool.
import { ValueError } from "../../errors.js";
import { stack } from "../../_generated/functions.js";
import { tensor } from "../../creation.js";
import { bool, float64, int64 } from "../../dtype.js";
import { Tensor } from "../../tensor.js";
import { typeName } from "../../_type_name.js";

/** The type default_collate makes from a batch of `T`s. */
export type Collated<T> = T extends Tensor | ArrayBufferView | number | bigint | boolean
  ? Tensor
  : T extends string
    ? string[]
    : T extends Map<infer K, infer V>
      ? Map<K, Collated<V>>
      : T extends readonly unknown[] | Record<string, unknown>
        ? { -readonly [K in keyof T]: Collated<T[K]> }
        : never;

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function collateNumbers(batch: unknown[]): Tensor {
  const elem = batch[0];
  if (typeof elem === "bigint") return tensor(batch as bigint[], { dtype: int64 });
  if (typeof elem === "boolean") return tensor(batch as boolean[], { dtype: bool });
  const integral = batch.every((x) => typeof x === "number" && Number.isInteger(x));
  return tensor(batch as number[], { dtype: integral ? int64 : float64 });
}

function collate(batch: unknown[]): unknown {
  if (batch.length === 0) throw new ValueError("default_collate: cannot collate an empty batch");
  const elem = batch[0];
  if (elem instanceof Tensor) return stack(batch as Tensor[], 0);
  if (ArrayBuffer.isView(elem))
    return stack(
      batch.map((b) => tensor(b as ArrayBufferView)),
      0,
    );
  if (typeof elem === "number" || typeof elem === "bigint" || typeof elem === "boolean") return collateNumbers(batch);
  if (typeof elem === "string") return batch;
  if (elem instanceof Map) {
    return new Map([...elem.keys()].map((k) => [k, collate(batch.map((d) => (d as Map<unknown, unknown>).get(k)))]));
  }
  if (isPlainObject(elem)) {
    return Object.fromEntries(Object.keys(elem).map((k) => [k, collate(batch.map((d) => (d as Record<string, unknown>)[k]))]));
  }
  if (Array.isArray(elem)) {
    const size = elem.length;
    if (!batch.every((b) => Array.isArray(b) && b.length === size))
      throw new ValueError("each element in list of batch should be of equal size");
    return Array.from({ length: size }, (_, i) => collate(batch.map((b) => (b as unknown[])[i])));
  }
  throw new TypeError(
    `default_collate: batch must contain tensors, typed arrays, numbers, strings, objects, Maps or arrays; found ${typeName(elem)}`,
  );
}

/** Python's `torch.utils.data.default_collate`: the samples of one batch -> one batch. */
export function default_collate<T>(batch: readonly T[]): Collated<T> {
  return collate([...batch]) as Collated<T>;
}

/**
 * Python's `default_convert` (the DataLoader's collate_fn when batching is off). It converts only
 * NumPy data, which JS does not have, so a sample comes back as it is.
 */
export function default_convert<T>(data: T): T {
  return data;
}
