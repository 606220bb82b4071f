// torch.utils.data samplers. Each draws random numbers in exactly the order Python's does (and
// lazily, at the first `next()`, as a Python generator would), so a seed gives Python's order.
import { ValueError } from "../../errors.js";
import "../../_generated/tensor_methods.js";
import { empty, randint, randperm } from "../../_generated/functions.js";
import { int64 } from "../../dtype.js";
import { Generator } from "../../generator.js";
import { len, type Sized } from "./dataset.js";
import { checkOptions } from "../../_options.js";

/** Base class of samplers: iterates over indices (or batches of indices); `len()` is optional. */
export abstract class Sampler<T> implements Iterable<T> {
  abstract [Symbol.iterator](): Iterator<T>;
  len?(): number;
}

/** A seed drawn as `int(torch.empty((), dtype=torch.int64).random_(generator=g).item())`, exact as a bigint. */
export function draw_seed(generator: Generator | null = null): bigint {
  return (empty([], { dtype: int64 }).random_({ generator }).typed_array() as BigInt64Array)[0];
}

export class SequentialSampler extends Sampler<number> {
  constructor(readonly data_source: Sized) {
    super();
  }

  *[Symbol.iterator](): Iterator<number> {
    const n = len(this.data_source);
    for (let i = 0; i < n; i++) yield i;
  }

  override len(): number {
    return len(this.data_source);
  }
}

export interface RandomSamplerOptions {
  replacement?: boolean;
  num_samples?: number | null;
  generator?: Generator | null;
}

/** Random order without replacement (a permutation per pass), or `num_samples` draws with replacement. */
export class RandomSampler extends Sampler<number> {
  readonly replacement: boolean;
  readonly generator: Generator | null;
  private readonly _num_samples: number | null;

  constructor(
    readonly data_source: Sized,
    opts: RandomSamplerOptions = {},
  ) {
    super();
    checkOptions("RandomSampler.__init__", opts, { replacement: true, num_samples: true, generator: true });
    const { replacement = false, num_samples = null, generator = null } = opts;
    this.replacement = replacement;
    this._num_samples = num_samples;
    this.generator = generator;
    if (typeof replacement !== "boolean")
      throw new TypeError(`replacement should be a boolean value, but got replacement=${String(replacement)}`);
    const n = this.num_samples;
    if (!Number.isInteger(n) || n <= 0) throw new ValueError(`num_samples should be a positive integer value, but got num_samples=${n}`);
  }

  get num_samples(): number {
    return this._num_samples ?? len(this.data_source);
  }

  *[Symbol.iterator](): Iterator<number> {
    const n = len(this.data_source);
    const generator = this.generator ?? new Generator().manual_seed(draw_seed());
    const num = this.num_samples;
    if (this.replacement) {
      const draw = (k: number) => randint(n, [k], { dtype: int64, generator }).tolist() as number[];
      for (let i = 0; i < Math.floor(num / 32); i++) yield* draw(32);
      yield* draw(num % 32);
    } else {
      if (n === 0) throw new ValueError("RandomSampler: cannot draw num_samples from an empty data_source without replacement");
      for (let i = 0; i < Math.floor(num / n); i++) yield* randperm(n, { generator }).tolist() as number[];
      yield* (randperm(n, { generator }).tolist() as number[]).slice(0, num % n);
    }
  }

  override len(): number {
    return this.num_samples;
  }
}

/** A random permutation of the given indices. */
export class SubsetRandomSampler extends Sampler<number> {
  constructor(
    readonly indices: readonly number[],
    readonly generator: Generator | null = null,
  ) {
    super();
  }

  *[Symbol.iterator](): Iterator<number> {
    for (const i of randperm(this.indices.length, { generator: this.generator }).tolist() as number[]) yield this.indices[i];
  }

  override len(): number {
    return this.indices.length;
  }
}

/** Groups the indices of `sampler` into lists of `batch_size` (the last one shorter unless dropped). */
export class BatchSampler extends Sampler<number[]> {
  constructor(
    readonly sampler: Iterable<number>,
    readonly batch_size: number,
    readonly drop_last: boolean,
  ) {
    super();
    if (!Number.isInteger(batch_size) || batch_size <= 0) {
      throw new ValueError(`batch_size should be a positive integer value, but got batch_size=${batch_size}`);
    }
    if (typeof drop_last !== "boolean") throw new TypeError(`drop_last should be a boolean value, but got drop_last=${String(drop_last)}`);
  }

  *[Symbol.iterator](): Iterator<number[]> {
    let batch: number[] = [];
    for (const idx of this.sampler) {
      batch.push(idx);
      if (batch.length === this.batch_size) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0 && !this.drop_last) yield batch;
  }

  override len(): number {
    const n = len(this.sampler);
    return this.drop_last ? Math.floor(n / this.batch_size) : Math.ceil(n / this.batch_size);
  }
}
