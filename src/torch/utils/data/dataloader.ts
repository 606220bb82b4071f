// torch.utils.data.DataLoader: batches of a dataset, in a sampler's order, through a collate_fn.
//
// Iterate with `for (const batch of loader)` (synchronous datasets) or `for await` (any dataset,
// including ones whose `getitem` returns a Promise, and async IterableDatasets).
//
// Workers and prefetching. JS runs ops on one thread, so no worker processes are forked;
// `num_workers > 0` turns on prefetching under `for await` instead: `prefetch_factor * num_workers`
// batches (default 2 per worker) are kept in flight, as Python keeps that many index batches
// outstanding; while the consumer works on batch i, batches i+1 .. i+depth are loading. Each
// prefetched batch is loaded and collated in its own event-loop turn (setImmediate), so it runs
// whenever the training step awaits (e.g. while queued CUDA kernels of step i execute, batch i+1 is
// read and collated on the host), and the getitem Promises of async datasets (disk, network) of
// all those batches are pending at once. Batches still arrive in the sampler's order. With
// `num_workers = 0` (the default) a batch is loaded when it is asked for, as in Python. Synchronous
// iteration never prefetches (nothing can run between two `next()` calls). Random ops inside
// `getitem` use the default generator (Python seeds each worker with `base_seed + worker_id`).
import { ValueError } from "../../errors.js";
import "../../_generated/tensor_methods.js";
import * as cuda from "../../cuda.js";
import { _data_shard } from "../../moreh.js";
import { default_generator, type Generator } from "../../generator.js";
import { Tensor } from "../../tensor.js";
import { typeName } from "../../_type_name.js";
import { checkOptions, type OptionNames } from "../../_options.js";
import { default_collate, default_convert, isPlainObject, type Collated } from "./collate.js";
import { GlobalBatchShareSampler } from "./distributed_sampler.js";
import {
  IterableDataset,
  TensorDictDataset,
  getitem,
  getitems,
  isPromiseLike,
  len,
  type MapDataset,
  type StreamDataset,
} from "./dataset.js";
import { BatchSampler, RandomSampler, SequentialSampler, draw_seed } from "./sampler.js";

export interface DataLoaderOptions<T, B> {
  /**
   * Samples per batch (default 1). `null` turns batching off: batches are the samples themselves
   * (or `collate_fn` of one sample); the batch type is then not inferred, so write
   * `new DataLoader<T, T>(...)`.
   */
  batch_size?: number | null;
  shuffle?: boolean | null;
  sampler?: Iterable<number> | null;
  batch_sampler?: Iterable<number[]> | null;
  /** Prefetch depth under `for await` (see the file comment); no processes are started. */
  num_workers?: number;
  collate_fn?: ((batch: T[]) => B) | null;
  /** Pins batch tensors (page-locked host memory) when CUDA is available; warns and does nothing otherwise. */
  pin_memory?: boolean;
  drop_last?: boolean;
  /** Seconds a `for await` may wait for a prefetched batch before it rejects (needs num_workers > 0; 0 = no limit). */
  timeout?: number;
  generator?: Generator | null;
  prefetch_factor?: number | null;
  /** Accepted for compatibility (it needs num_workers > 0, as in Python); there are no workers to keep. */
  persistent_workers?: boolean;
}

/**
 * Where a DataLoader is within its current pass, as torchdata's StatefulDataLoader keeps it, so that
 * a training run resumed from a checkpoint reads the rest of the pass in the same order.
 */
export interface DataLoaderStateDict {
  /** Batches of the current pass handed out so far. */
  num_yielded: number;
  /** Whether the current pass has ended (its iterator said done; the next iteration starts a new pass). */
  finished: boolean;
  /** The state, as the pass began, of the generator it draws its order from (the loader's, else the default CPU generator); null before any pass. */
  pass_generator_state: Tensor | null;
  /** The loader's own generator's state now; null when it has none (the default generator's state is the caller's to keep). */
  generator_state: Tensor | null;
}

const DATALOADER_OPTIONS: OptionNames<DataLoaderOptions<unknown, unknown>> = {
  batch_size: true,
  shuffle: true,
  sampler: true,
  batch_sampler: true,
  num_workers: true,
  collate_fn: true,
  pin_memory: true,
  drop_last: true,
  timeout: true,
  generator: true,
  prefetch_factor: true,
  persistent_workers: true,
};

interface PassPosition {
  generator_state: Tensor;
  yielded: number;
  ended: boolean;
}

/**
 * `keys` after the first `skip`, with the next one already read: a sampler draws its order at its
 * first `next()`, which must happen while the resumed pass's generator state is in place.
 */
function resumedKeys<K>(keys: Iterable<K>, skip: number): Iterable<K> {
  const it = keys[Symbol.iterator]();
  for (let i = 0; i < skip && it.next().done !== true; i++);
  const first = it.next();
  return {
    *[Symbol.iterator]() {
      if (first.done === true) return;
      yield first.value;
      for (let r = it.next(); r.done !== true; r = it.next()) yield r.value;
    },
  };
}

type Step<B> = IteratorResult<B, undefined>;
const DONE: Step<never> = { done: true, value: undefined };
const ASYNC_HINT = "iterate the DataLoader with `for await` for asynchronous datasets";

function mapTensors(data: unknown, f: (t: Tensor) => Tensor): unknown {
  if (data instanceof Tensor) return f(data);
  if (Array.isArray(data)) return data.map((x) => mapTensors(x, f));
  if (data instanceof Map) return new Map([...data].map(([k, v]) => [k, mapTensors(v, f)]));
  if (isPlainObject(data)) {
    return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, mapTensors(v, f)]));
  }
  return data;
}

function withTimeout<R>(p: Promise<R>, seconds: number): Promise<R> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`DataLoader timed out after ${seconds} seconds`)), seconds * 1000);
  });
  return Promise.race([p, expired]).finally(() => clearTimeout(timer));
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** What a pass's drivers report: a batch handed to the consumer, the pass's end. */
interface PassEvents {
  delivered(): void;
  ended(): void;
}

// Keeps up to `depth` jobs running ahead of the consumer; results come back in job order.
class PrefetchIterator<B> implements AsyncIterableIterator<B> {
  private readonly queue: Promise<Step<B>>[] = [];
  private exhausted = false;

  constructor(
    private readonly nextJob: () => (() => Promise<Step<B>>) | null,
    private readonly depth: number,
    private readonly timeout: number,
    private readonly pass: PassEvents,
  ) {}

  private fill(target: number): void {
    while (!this.exhausted && this.queue.length < target) {
      const job = this.nextJob();
      if (job === null) {
        this.exhausted = true;
        break;
      }
      const p = this.depth > 0 ? nextTurn().then(job) : job();
      // Errors surface when the consumer reaches this batch; never as an unhandled rejection.
      p.catch(() => undefined);
      this.queue.push(p);
    }
  }

  // As Python's worker queue: `depth` batches are outstanding, the awaited one included; the
  // next is queued when one is handed over, so `depth` load while the consumer works.
  async next(): Promise<Step<B>> {
    this.fill(Math.max(1, this.depth));
    const head = this.queue.shift();
    if (head === undefined) return DONE;
    const step = await (this.timeout > 0 ? withTimeout(head, this.timeout) : head);
    if (step.done) {
      this.pass.ended();
      await this.return();
    } else {
      this.pass.delivered();
      this.fill(this.depth);
    }
    return step;
  }

  async return(): Promise<Step<B>> {
    this.exhausted = true;
    this.queue.length = 0;
    return DONE;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

// Python's checks of the multiprocessing options; returns the effective prefetch_factor.
function checkWorkerOptions(
  num_workers: number,
  timeout: number,
  prefetch_factor: number | null,
  persistent_workers: boolean,
): number | null {
  if (!Number.isInteger(num_workers) || num_workers < 0) {
    throw new ValueError("num_workers option should be non-negative; use num_workers=0 to disable multiprocessing.");
  }
  if (timeout < 0) throw new ValueError("timeout option should be non-negative");
  if (num_workers === 0 && prefetch_factor !== null) {
    throw new ValueError(
      "prefetch_factor option could only be specified in multiprocessing.let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None.",
    );
  }
  if (prefetch_factor !== null && prefetch_factor < 0) throw new ValueError("prefetch_factor option should be non-negative");
  if (persistent_workers && num_workers === 0) throw new ValueError("persistent_workers option needs num_workers > 0");
  return num_workers > 0 ? (prefetch_factor ?? 2) : null;
}

export class DataLoader<T = unknown, B = Collated<T>> implements Iterable<B>, AsyncIterable<B> {
  readonly dataset: MapDataset<T> | StreamDataset<T>;
  readonly batch_size: number | null;
  readonly drop_last: boolean;
  /** The index sampler (null for an IterableDataset, which is read in its own order). */
  readonly sampler: Iterable<number> | null;
  readonly batch_sampler: Iterable<number[]> | null;
  readonly generator: Generator | null;
  readonly collate_fn: (batch: T[]) => B;
  readonly num_workers: number;
  readonly prefetch_factor: number | null;
  readonly pin_memory: boolean;
  readonly timeout: number;
  readonly persistent_workers: boolean;
  /** The current (or last) pass's position; null before the first. */
  private position: PassPosition | null = null;
  /** A loaded state the next pass resumes from. */
  private resumeFrom: DataLoaderStateDict | null = null;

  /**
   * `dataset`: a Dataset, an IterableDataset, an array of samples, or a dict of equal-length tensors
   * (rows `{ key: tensor[i] }`, as TensorDictDataset).
   */
  constructor(dataset: MapDataset<T> | StreamDataset<T> | (T & Readonly<Record<string, Tensor>>), options: DataLoaderOptions<T, B> = {}) {
    checkOptions("DataLoader.__init__", options, DATALOADER_OPTIONS);
    if (isPlainObject(dataset) && Object.keys(dataset).length > 0)
      dataset = new TensorDictDataset(dataset as T & Record<string, Tensor>, "DataLoader");
    const { num_workers = 0, timeout = 0, persistent_workers = false, drop_last = false, generator = null } = options;
    let { batch_size = 1, shuffle = null, sampler = null, batch_sampler = null } = options;
    const prefetch_factor = checkWorkerOptions(num_workers, timeout, options.prefetch_factor ?? null, persistent_workers);

    const iterable = dataset instanceof IterableDataset;
    if (iterable) {
      if (shuffle !== null && shuffle !== false) {
        throw new ValueError(`DataLoader with IterableDataset: expected unspecified shuffle option, but got shuffle=${String(shuffle)}`);
      }
      if (sampler !== null)
        throw new ValueError("DataLoader with IterableDataset: expected unspecified sampler option, but got sampler=" + typeName(sampler));
      if (batch_sampler !== null) {
        throw new ValueError(
          "DataLoader with IterableDataset: expected unspecified batch_sampler option, but got batch_sampler=" + typeName(batch_sampler),
        );
      }
    } else if (!Array.isArray(dataset) && typeof (dataset as { getitem?: unknown }).getitem !== "function") {
      throw new TypeError(
        `DataLoader: dataset must be a Dataset, an IterableDataset, an array or a dict of equal-length tensors, got ${typeName(dataset)}`,
      );
    }
    shuffle = Boolean(shuffle);
    if (sampler !== null && shuffle) throw new ValueError("sampler option is mutually exclusive with shuffle");

    let dropLast = drop_last;
    if (batch_sampler !== null) {
      if (batch_size !== 1 || shuffle || sampler !== null || drop_last) {
        throw new ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last");
      }
      batch_size = null;
      dropLast = false;
    } else if (batch_size === null) {
      if (drop_last) throw new ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last");
    }

    if (sampler === null && !iterable) {
      const ds = dataset as MapDataset<T>;
      sampler = shuffle ? new RandomSampler(ds, { generator }) : new SequentialSampler(ds);
      // Advanced Parallelization: batch_size is the global batch; each rank reads its share of it.
      const shard = batch_sampler === null && batch_size !== null ? _data_shard() : null;
      if (shard !== null) batch_sampler = new GlobalBatchShareSampler(sampler, batch_size as number, drop_last, shard);
    }
    if (batch_size !== null && batch_sampler === null && sampler !== null) {
      batch_sampler = new BatchSampler(sampler, batch_size, drop_last);
    } else if (batch_size !== null && iterable && !(Number.isInteger(batch_size) && batch_size > 0)) {
      throw new ValueError(`batch_size should be a positive integer value, but got batch_size=${batch_size}`);
    }

    this.dataset = dataset as MapDataset<T> | StreamDataset<T>;
    this.batch_size = batch_size;
    this.drop_last = dropLast;
    this.sampler = sampler;
    this.batch_sampler = batch_sampler;
    this.generator = generator;
    const autoCollation = batch_sampler !== null || (iterable && batch_size !== null);
    this.collate_fn = options.collate_fn ?? ((autoCollation ? default_collate : default_convert) as (batch: T[]) => B);
    this.num_workers = num_workers;
    this.prefetch_factor = prefetch_factor;
    this.pin_memory = options.pin_memory ?? false;
    this.timeout = timeout;
    this.persistent_workers = persistent_workers;
  }

  /** Batches per pass: the index sampler's length, or for an IterableDataset its `len()` over batch_size. */
  len(): number {
    if (this.dataset instanceof IterableDataset) {
      const n = len(this.dataset);
      if (this.batch_size === null) return n;
      return this.drop_last ? Math.floor(n / this.batch_size) : Math.ceil(n / this.batch_size);
    }
    return len(this.batch_sampler ?? this.sampler);
  }

  [Symbol.iterator](): Iterator<B> {
    const fetch = this.beginPass();
    if (fetch.keys === null) {
      const stream = this.dataset as Partial<Iterable<T>>;
      if (typeof stream[Symbol.iterator] !== "function")
        throw new TypeError(`DataLoader: the IterableDataset has no [Symbol.iterator]; ${ASYNC_HINT}`);
      const it = (stream as Iterable<T>)[Symbol.iterator]();
      const rule = streamBatches<T>(this.batch_size, this.drop_last);
      return (function* () {
        for (let msg = rule.next(); !msg.done; ) {
          if (msg.value.pull) {
            const r = it.next();
            if (isPromiseLike(r)) throw new TypeError(`DataLoader: the IterableDataset yielded a Promise; ${ASYNC_HINT}`);
            msg = rule.next(r);
          } else {
            const data = msg.value.data;
            msg = rule.next();
            if (fetch.skipped()) continue;
            fetch.delivered();
            yield fetch.finish(data);
          }
        }
        fetch.ended();
      })();
    }
    const keys = fetch.keys;
    return (function* () {
      for (const key of keys) {
        const data = fetch.load(key);
        if (isPromiseLike(data)) throw new TypeError(`DataLoader: the dataset's getitem returned a Promise; ${ASYNC_HINT}`);
        fetch.delivered();
        yield fetch.finish(data);
      }
      fetch.ended();
    })();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<B> {
    const fetch = this.beginPass();
    const depth = this.num_workers > 0 ? Math.max(1, (this.prefetch_factor ?? 2) * this.num_workers) : 0;
    if (fetch.keys === null) {
      const stream = this.dataset as Partial<Iterable<T> & AsyncIterable<T>>;
      const it: Iterator<T> | AsyncIterator<T> | undefined = stream[Symbol.asyncIterator]?.() ?? stream[Symbol.iterator]?.();
      if (it === undefined)
        throw new TypeError("DataLoader: the IterableDataset defines neither [Symbol.iterator] nor [Symbol.asyncIterator]");
      const rule = streamBatches<T>(this.batch_size, this.drop_last);
      let msg = rule.next();
      // One stream: each job pulls after the previous job's pulls are done.
      let chain: Promise<unknown> = Promise.resolve();
      const nextBatch = async (): Promise<Step<B>> => {
        while (!msg.done) {
          if (msg.value.pull) {
            msg = rule.next(await it.next());
          } else {
            const data = msg.value.data;
            msg = rule.next();
            if (!fetch.skipped()) return { done: false, value: fetch.finish(data) };
          }
        }
        return DONE;
      };
      return new PrefetchIterator<B>(
        () => () => {
          const p = chain.then(nextBatch);
          chain = p.catch(() => undefined);
          return p;
        },
        depth,
        this.timeout,
        fetch,
      );
    }
    const keys = fetch.keys[Symbol.iterator]();
    return new PrefetchIterator<B>(
      () => {
        const k = keys.next();
        if (k.done) return null;
        return async () => ({ done: false, value: fetch.finish(await fetch.load(k.value)) });
      },
      depth,
      this.timeout,
      fetch,
    );
  }

  // What every pass starts with: Python draws the iterator's `_base_seed` from the loader's
  // generator (or the default one) here, before the sampler draws anything; mirroring that keeps
  // the second epoch's order equal to Python's.
  //
  // A pass resumed from load_state_dict() draws from the generator state its original pass began
  // with and reads past the batches already handed out (a stream's are read and dropped). The
  // default generator is then put back as it was (the training step draws from it too, and the
  // caller restored it from its checkpoint); the loader's own generator is the loader's alone, so it
  // stays where the replay left it, as the original pass left it (a sampler may still draw at its end).
  private beginPass(): PassEvents & {
    keys: Iterable<number | number[]> | null;
    load: (key: number | number[]) => T | T[] | Promise<T | T[]>;
    finish: (data: T | T[]) => B;
    /** A stream's batch to drop (already handed out before the resume). */
    skipped(): boolean;
  } {
    if (this.timeout !== 0 && this.num_workers === 0) {
      throw new ValueError("DataLoader: timeout needs num_workers > 0 (Python's single-process loader requires timeout == 0)");
    }
    const rng = this.generator ?? default_generator;
    const resume = this.resumeFrom;
    this.resumeFrom = null;
    const outer = resume === null || this.generator !== null ? null : rng.get_state();
    if (resume !== null) rng.set_state(resume.pass_generator_state!);
    const position: PassPosition = { generator_state: rng.get_state(), yielded: resume?.num_yielded ?? 0, ended: false };
    this.position = position;
    draw_seed(this.generator);
    let toSkip = 0;
    const events = {
      delivered: () => void position.yielded++,
      ended: () => void (position.ended = true),
      skipped: (): boolean => {
        if (toSkip === 0) return false;
        toSkip--;
        return true;
      },
    };
    const ds = this.dataset;
    const collate = this.collate_fn as (data: T | T[]) => B;
    const finish = (data: T | T[]) => this.pinned(collate(data));
    let keys: Iterable<number | number[]> | null = null;
    let load = (_key: number | number[]): T | T[] | Promise<T | T[]> => [];
    if (ds instanceof IterableDataset) {
      toSkip = resume?.num_yielded ?? 0;
    } else {
      const map = ds as MapDataset<T>;
      load = (key) => (Array.isArray(key) ? getitems(map, key) : getitem(map, key));
      keys = this.batch_sampler ?? (this.sampler as Iterable<number>);
      if (resume !== null) keys = resumedKeys(keys, resume.num_yielded);
    }
    if (outer !== null) rng.set_state(outer);
    return { ...events, keys, load, finish };
  }

  /** The position within the current pass (torchdata's StatefulDataLoader.state_dict()). */
  state_dict(): DataLoaderStateDict {
    // Loaded but not iterated yet: still where the loaded state was.
    if (this.resumeFrom !== null) return { ...this.resumeFrom, generator_state: this.generator?.get_state() ?? null };
    const p = this.position;
    // A pass that handed out its last batch has not ended: its sampler may still draw as it ends.
    return {
      num_yielded: p?.yielded ?? 0,
      finished: p === null || p.ended,
      pass_generator_state: p?.generator_state ?? null,
      generator_state: this.generator?.get_state() ?? null,
    };
  }

  /**
   * Resumes from a state_dict(): the next iteration reads the rest of that pass, in its order (or
   * starts a new pass when it had finished). Restore the default generator's state (torch.set_rng_state)
   * as it was when the state was taken; the loader's own generator is restored here.
   */
  load_state_dict(state: DataLoaderStateDict): void {
    if (state.generator_state !== null) {
      if (this.generator === null)
        throw new Error("DataLoader.load_state_dict: the state has a generator state, but this loader has no generator");
      this.generator.set_state(state.generator_state);
    }
    this.position = null;
    this.resumeFrom = state.finished || state.pass_generator_state === null ? null : state;
  }

  private warnedPin = false;

  private pinned(batch: B): B {
    if (!this.pin_memory) return batch;
    if (cuda.is_available()) return mapTensors(batch, (t) => t.pin_memory()) as B;
    if (!this.warnedPin) {
      this.warnedPin = true;
      process.emitWarning("'pin_memory' argument is set as true but no accelerator is found, then device pinned memory won't be used.");
    }
    return batch;
  }
}

type StreamMsg<T> = { pull: true } | { pull: false; data: T | T[] };

// Python's batching of an iterable-style dataset as a coroutine, so that one rule serves the sync
// and the async driver: it yields {pull} to ask for the next sample and {data} for a batch. A short
// last batch is kept unless drop_last; an empty one ends the pass.
function* streamBatches<T>(batchSize: number | null, dropLast: boolean): globalThis.Generator<StreamMsg<T>, void, IteratorResult<T>> {
  const PULL = { pull: true } as const;
  for (;;) {
    if (batchSize === null) {
      const r = yield PULL;
      if (r.done) return;
      yield { pull: false, data: r.value };
      continue;
    }
    const data: T[] = [];
    let ended = false;
    while (data.length < batchSize) {
      const r = yield PULL;
      if (r.done) {
        ended = true;
        break;
      }
      data.push(r.value);
    }
    if (data.length === 0 || (dropLast && data.length < batchSize)) return;
    yield { pull: false, data };
    if (ended) return;
  }
}
