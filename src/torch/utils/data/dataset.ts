// torch.utils.data datasets. Python's `__getitem__`/`__len__`/`__getitems__` are spelled
// `getitem`/`len`/`getitems`; a plain JS array also works wherever a map-style dataset is taken.
import { IndexError, ValueError } from "../../errors.js";
import "../../_generated/tensor_methods.js";
import { randperm } from "../../_generated/functions.js";
import type { Generator } from "../../generator.js";
import type { Tensor } from "../../tensor.js";
import { typeName } from "../../_type_name.js";

/** A map-style dataset: samples by integer index. `getitem` may return a Promise (e.g. disk reads). */
export abstract class Dataset<T> {
  abstract getitem(index: number): T | Promise<T>;
  abstract len(): number;
  /** Optional batched fetch (Python's `__getitems__`); the DataLoader prefers it when present. */
  getitems?(indices: number[]): T[] | Promise<T[]>;
}

/** Anything the DataLoader and samplers accept as a map-style dataset. */
export type MapDataset<T> = Dataset<T> | readonly T[];

/** Something with a length: a dataset, a sampler, or an array (Python's `Sized`). */
export type Sized = { len(): number } | readonly unknown[];

/** `len(x)` for datasets, samplers and arrays; a TypeError like Python's for anything else. */
export function len(x: unknown): number {
  if (Array.isArray(x)) return x.length;
  const l = (x as { len?: unknown } | null)?.len;
  if (typeof l === "function") return (l as () => number).call(x);
  const name = (x as object | null)?.constructor?.name ?? typeof x;
  throw new TypeError(`object of type '${name}' has no len()`);
}

/** `dataset[index]` for a Dataset or an array (negative indices count from the end, as Python). */
export function getitem<T>(dataset: MapDataset<T>, index: number): T | Promise<T> {
  if (!Array.isArray(dataset)) return (dataset as Dataset<T>).getitem(index);
  const arr = dataset as readonly T[];
  const i = index < 0 ? index + arr.length : index;
  if (!Number.isInteger(i) || i < 0 || i >= arr.length)
    throw new IndexError(`list index out of range (index ${index}, length ${arr.length})`);
  return arr[i];
}

/**
 * The samples at `indices`: the dataset's `getitems` when it has one (Python's `__getitems__`),
 * else one `getitem` each — a Promise of them all if any is a Promise.
 */
export function getitems<T>(dataset: MapDataset<T>, indices: number[]): T[] | Promise<T[]> {
  const batched = (dataset as Dataset<T>).getitems;
  if (!Array.isArray(dataset) && typeof batched === "function") return batched.call(dataset, indices);
  const items = indices.map((i) => getitem(dataset, i));
  return items.some(isPromiseLike) ? Promise.all(items) : (items as T[]);
}

/**
 * An iterable-style dataset: a stream of samples. Subclasses define `[Symbol.iterator]` or, for
 * asynchronous sources, `[Symbol.asyncIterator]`; `len()` is optional (DataLoader.len() needs it).
 */
export abstract class IterableDataset<T> {
  len?(): number;
}

/** An IterableDataset together with the iterator protocol its subclass provides. */
export type StreamDataset<T> = IterableDataset<T> & (Iterable<T> | AsyncIterable<T>);

/** Samples are the i-th slices of each tensor along the first dimension. */
export class TensorDataset extends Dataset<Tensor[]> {
  readonly tensors: Tensor[];

  constructor(...tensors: Tensor[]) {
    super();
    if (tensors.length === 0) throw new TypeError("TensorDataset: expected at least one tensor");
    const n = tensors[0].size(0);
    if (tensors.some((t) => t.size(0) !== n)) throw new Error("Size mismatch between tensors");
    this.tensors = tensors;
  }

  getitem(index: number): Tensor[] {
    return this.tensors.map((t) => t.select(0, index));
  }

  len(): number {
    return this.tensors[0].size(0);
  }
}

/**
 * A dict of equal-length tensors as a dataset of rows: row i is `{ key: tensors[key][i] }` for every
 * key — what a `.pt` of tokenized columns holds (`torch.save({ input_ids, attention_mask })`). The
 * DataLoader takes such a dict directly and wraps it in this class.
 */
export class TensorDictDataset<T extends Record<string, Tensor>> extends Dataset<T> {
  readonly tensors: T;
  private readonly n: number;

  constructor(tensors: T, what = "TensorDictDataset") {
    super();
    const entries = Object.entries(tensors as Record<string, unknown>);
    if (entries.length === 0) throw new TypeError(`${what}: expected a dict of at least one tensor, got an empty object`);
    const notTensor = entries.find(([, t]) => !isTensorLike(t));
    if (notTensor !== undefined)
      throw new TypeError(
        `${what}: every value must be a tensor with a first dimension, but '${notTensor[0]}' is ${typeName(notTensor[1])}`,
      );
    const sizes = entries.map(([k, t]) => [k, (t as Tensor).size(0)] as const);
    const [k0, n] = sizes[0];
    const odd = sizes.find(([, m]) => m !== n);
    if (odd !== undefined) throw new Error(`${what}: size mismatch between tensors: '${k0}' has ${n} rows, '${odd[0]}' has ${odd[1]}`);
    this.tensors = tensors;
    this.n = n;
  }

  getitem(index: number): T {
    return Object.fromEntries(Object.entries(this.tensors).map(([k, t]) => [k, t.select(0, index)])) as T;
  }

  len(): number {
    return this.n;
  }
}

function isTensorLike(v: unknown): boolean {
  return typeof (v as { size?: unknown } | null)?.size === "function" && ((v as Tensor).dim?.() ?? 0) > 0;
}

/** The samples of `dataset` at `indices`, in that order. */
export class Subset<T> extends Dataset<T> {
  constructor(
    readonly dataset: MapDataset<T>,
    readonly indices: readonly number[],
  ) {
    super();
  }

  getitem(idx: number): T | Promise<T> {
    return getitem(this.dataset, getitem(this.indices, idx) as number);
  }

  override getitems(indices: number[]): T[] | Promise<T[]> {
    return getitems(
      this.dataset,
      indices.map((i) => getitem(this.indices, i) as number),
    );
  }

  len(): number {
    return this.indices.length;
  }
}

export function isPromiseLike<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === "function";
}

// Python's math.isclose(a, b) with its default rel_tol=1e-9, abs_tol=0.
function isclose(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
}

/**
 * Splits `dataset` into non-overlapping Subsets of the given lengths (or fractions summing to 1,
 * turned into lengths as Python does). The permutation is `torch.randperm(n, generator)`, so the
 * same seed gives Python's split; without a generator the default generator is used.
 */
export function random_split<T>(dataset: MapDataset<T>, lengths: readonly number[], generator: Generator | null = null): Subset<T>[] {
  const n = len(dataset);
  let sizes = [...lengths];
  const total = sizes.reduce((a, b) => a + b, 0);
  if (isclose(total, 1) && total <= 1) {
    sizes = lengths.map((frac, i) => {
      if (frac < 0 || frac > 1) throw new ValueError(`Fraction at index ${i} is not between 0 and 1`);
      return Math.floor(n * frac);
    });
    const remainder = n - sizes.reduce((a, b) => a + b, 0);
    for (let i = 0; i < remainder; i++) sizes[i % sizes.length] += 1;
    sizes.forEach((s, i) => {
      if (s === 0) process.emitWarning(`Length of split at index ${i} is 0. This might result in an empty dataset.`);
    });
  }
  const sum = sizes.reduce((a, b) => a + b, 0);
  if (sum !== n) throw new ValueError("Sum of input lengths does not equal the length of the input dataset!");
  const indices = randperm(sum, { generator }).tolist() as number[];
  let offset = 0;
  return sizes.map((s) => new Subset(dataset, indices.slice(offset, (offset += s))));
}
