// datasets.Dataset: a table of rows with map (batched too), filter, shuffle, train_test_split,
// select and with_format("torch"); a map-style dataset the DataLoader reads directly. Rows are kept
// as plain objects (the library's Arrow table is not needed at the sizes a script loads here).
import * as torch from "../torch/index.js";
import type { Tensor } from "../torch/tensor.js";
import { Dataset as TorchDataset } from "../torch/utils/data/dataset.js";
import { toTorch, type TorchValue } from "./formatting.js";

export type Row = Record<string, unknown>;

/** A batch as `map(fn, { batched: true })` hands it over: each column's values in a list. */
export type Batch<R extends Row> = { [K in keyof R]: R[K][] };

/** The row type a map makes: the function's new columns over the old (a returned tensor's rows are lists). */
export type Mapped<R extends Row, O> = Omit<R, keyof O> & { [K in keyof O]: O[K] extends Tensor ? unknown : O[K] };
export type BatchMapped<R extends Row, O> = Omit<R, keyof O> & { [K in keyof O]: O[K] extends readonly (infer E)[] ? E : unknown };

export interface MapOptions {
  /** Hand `fn` batches of `batch_size` rows as columns (default false). */
  batched?: boolean;
  /** Rows per batch when batched (default 1000, as datasets). */
  batch_size?: number;
  /** Columns dropped from the result (those the function returns are kept). */
  remove_columns?: string | string[];
}

export interface TrainTestSplitOptions {
  /** A fraction of the rows (0..1) or a count; default 0.25 when train_size is not given either. */
  test_size?: number | null;
  train_size?: number | null;
  shuffle?: boolean;
  seed?: number | null;
}

export interface FormatOptions {
  columns?: string[] | null;
  /** Keep the other columns, unformatted (default false: only `columns`). */
  output_all_columns?: boolean;
}

interface Format {
  type: "torch" | null;
  columns: string[] | null;
  output_all_columns: boolean;
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

/** The rows of a batched function's output column: a list as is, a tensor by its first dimension. */
function columnRows(name: string, v: unknown, n: number | null): unknown[] {
  const rows = v instanceof torch.Tensor ? (v.dim() === 0 ? [v.item()] : (v.tolist() as unknown[])) : v;
  if (!Array.isArray(rows))
    throw new TypeError(`Dataset.map (batched): column '${name}' must be a list or a tensor of rows, got ${typeof v}`);
  if (n !== null && rows.length !== n)
    throw new Error(`Dataset.map (batched): column '${name}' has ${rows.length} rows where the others have ${n}`);
  return rows;
}

/** A single row's value as stored: tensors become lists, as the Arrow table stores them. */
function stored(v: unknown): unknown {
  return v instanceof torch.Tensor ? (v.dim() === 0 ? v.item() : v.tolist()) : v;
}

function permutation(n: number, seed: number | null | undefined): number[] {
  const generator = seed === null || seed === undefined ? undefined : new torch.Generator().manual_seed(seed);
  return torch.randperm(n, { generator }).tolist() as number[];
}

export class Dataset<R extends Row = Row> extends TorchDataset<R> {
  private readonly rows: readonly Row[];
  readonly column_names: string[];
  private readonly format: Format;
  /** The split this dataset was loaded as ("train", ...), or null. */
  readonly split: string | null;

  constructor(
    rows: readonly Row[],
    { column_names, format, split = null }: { column_names?: string[]; format?: Format; split?: string | null } = {},
  ) {
    super();
    this.rows = rows;
    this.column_names = column_names ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
    this.format = format ?? { type: null, columns: null, output_all_columns: false };
    this.split = split;
  }

  /** `Dataset.from_list(rows)`. */
  static from_list<R extends Row>(rows: R[]): Dataset<R> {
    return new Dataset<R>(rows);
  }

  /** `Dataset.from_dict({ column: values })`. */
  static from_dict<C extends Record<string, readonly unknown[]>>(columns: C): Dataset<{ [K in keyof C]: C[K][number] }> {
    const names = Object.keys(columns);
    const n = names.length === 0 ? 0 : columns[names[0]].length;
    for (const k of names)
      check(columns[k].length === n, `Dataset.from_dict: column '${k}' has ${columns[k].length} values where '${names[0]}' has ${n}`);
    return new Dataset(
      Array.from({ length: n }, (_, i) => Object.fromEntries(names.map((k) => [k, columns[k][i]]))),
      { column_names: names },
    );
  }

  get num_rows(): number {
    return this.rows.length;
  }

  len(): number {
    return this.rows.length;
  }

  private derive<S extends Row>(
    rows: readonly Row[],
    column_names: string[] = this.column_names,
    format: Format = this.format,
  ): Dataset<S> {
    return new Dataset<S>(rows, {
      column_names,
      format: { ...format, columns: format.columns?.filter((c) => column_names.includes(c)) ?? null },
      split: this.split,
    });
  }

  /** Row `index` in the current format (negative counts from the end). */
  getitem(index: number): R {
    const i = index < 0 ? index + this.rows.length : index;
    if (!Number.isInteger(i) || i < 0 || i >= this.rows.length)
      throw new RangeError(`Dataset: index ${index} is out of range for a dataset of ${this.rows.length} rows`);
    return this.formatted(this.rows[i]) as R;
  }

  override getitems(indices: number[]): R[] {
    return indices.map((i) => this.getitem(i));
  }

  /** A column's values (Python's `ds["text"]`), formatted. */
  column(name: string): unknown[] {
    check(this.column_names.includes(name), `Dataset: no column '${name}' (columns: ${this.column_names.join(", ")})`);
    return this.rows.map((r) => (this.formatted({ [name]: r[name] }) as Row)[name]);
  }

  private formatted(row: Row): Row {
    const { type, columns, output_all_columns } = this.format;
    const keep = columns ?? this.column_names;
    const out: Row = {};
    for (const k of this.column_names) {
      if (!(k in row)) continue;
      if (keep.includes(k)) out[k] = type === "torch" ? toTorch(row[k]) : row[k];
      else if (output_all_columns) out[k] = row[k];
    }
    return out;
  }

  *[Symbol.iterator](): Generator<R> {
    for (let i = 0; i < this.rows.length; i++) yield this.getitem(i);
  }

  /** The rows as plain objects, unformatted. */
  to_list(): R[] {
    return this.rows.map((r) => ({ ...r })) as R[];
  }

  map<O extends object>(fn: (example: R, index: number) => O, options?: MapOptions & { batched?: false }): Dataset<Mapped<R, O>>;
  map<O extends object>(fn: (batch: Batch<R>, indices: number[]) => O, options: MapOptions & { batched: true }): Dataset<BatchMapped<R, O>>;
  map(
    fn: (input: never, index: never) => object,
    { batched = false, batch_size = 1000, remove_columns = [] }: MapOptions = {},
  ): Dataset<Row> {
    const removed = typeof remove_columns === "string" ? [remove_columns] : remove_columns;
    for (const c of removed)
      check(
        this.column_names.includes(c),
        `Dataset.map: remove_columns names '${c}', which is not a column (columns: ${this.column_names.join(", ")})`,
      );
    const call = fn as (input: unknown, index: unknown) => Row;
    const out: Row[] = [];
    const names = new Set(this.column_names.filter((c) => !removed.includes(c)));
    const merge = (row: Row, update: Row): void => {
      const next: Row = {};
      for (const k of Object.keys(row)) if (!removed.includes(k)) next[k] = row[k];
      for (const [k, v] of Object.entries(update)) {
        next[k] = stored(v);
        names.add(k);
      }
      out.push(next);
    };
    if (!batched) {
      this.rows.forEach((row, i) => merge(row, checkedOutput(call({ ...row }, i), "Dataset.map")));
    } else {
      check(Number.isInteger(batch_size) && batch_size > 0, `Dataset.map: batch_size must be a positive integer, got ${batch_size}`);
      for (let start = 0; start < this.rows.length; start += batch_size) {
        const rows = this.rows.slice(start, start + batch_size);
        const batch = Object.fromEntries(this.column_names.map((k) => [k, rows.map((r) => r[k])]));
        const result = checkedOutput(
          call(
            batch,
            rows.map((_, j) => start + j),
          ),
          "Dataset.map (batched)",
        );
        const columns = Object.entries(result).map(([k, v]) => [k, columnRows(k, v, rows.length)] as const);
        rows.forEach((row, j) => merge(row, Object.fromEntries(columns.map(([k, v]) => [k, v[j]]))));
      }
    }
    return this.derive(out, [...names]);
  }

  filter(fn: (example: R, index: number) => boolean, options?: { batched?: false; batch_size?: number }): Dataset<R>;
  filter(fn: (batch: Batch<R>, indices: number[]) => boolean[], options: { batched: true; batch_size?: number }): Dataset<R>;
  filter(
    fn: (input: never, index: never) => boolean | boolean[],
    { batched = false, batch_size = 1000 }: { batched?: boolean; batch_size?: number } = {},
  ): Dataset<R> {
    const call = fn as (input: unknown, index: unknown) => boolean | boolean[];
    const keep: Row[] = [];
    if (!batched) {
      this.rows.forEach((row, i) => {
        if (call({ ...row }, i) === true) keep.push(row);
      });
    } else {
      for (let start = 0; start < this.rows.length; start += batch_size) {
        const rows = this.rows.slice(start, start + batch_size);
        const mask = call(
          Object.fromEntries(this.column_names.map((k) => [k, rows.map((r) => r[k])])),
          rows.map((_, j) => start + j),
        );
        check(
          Array.isArray(mask) && mask.length === rows.length,
          `Dataset.filter (batched): the function must return one boolean per row (${rows.length})`,
        );
        rows.forEach((row, j) => (mask as boolean[])[j] && keep.push(row));
      }
    }
    return this.derive(keep);
  }

  /** The rows at `indices`, in that order. */
  select(indices: Iterable<number>): Dataset<R> {
    const n = this.rows.length;
    return this.derive(
      [...indices].map((i) => {
        check(Number.isInteger(i) && i >= 0 && i < n, `Dataset.select: index ${i} is out of range for a dataset of ${n} rows`);
        return this.rows[i];
      }),
    );
  }

  /**
   * The rows in a random order: `torch.randperm(n)` under a generator seeded with `seed` (so the same
   * seed gives the same order in Python with torch.randperm; datasets' own order comes from numpy).
   */
  shuffle({ seed = null }: { seed?: number | null } = {}): Dataset<R> {
    return this.select(permutation(this.rows.length, seed));
  }

  /** `{ train, test }`: test takes the first test_size rows of the (shuffled) order, as datasets does. */
  train_test_split({ test_size = null, train_size = null, shuffle = true, seed = null }: TrainTestSplitOptions = {}): DatasetDictOf<R> {
    const n = this.rows.length;
    const count = (v: number, what: string): number => {
      check(
        v > 0 && (v < 1 || (Number.isInteger(v) && v < n)),
        `train_test_split: ${what}=${v} should be a fraction in (0, 1) or a count in [1, ${n - 1}] for a dataset of ${n} rows`,
      );
      return v < 1 ? v : v / n;
    };
    const testFrac = test_size === null ? (train_size === null ? 0.25 : null) : count(test_size, "test_size");
    const trainFrac = train_size === null ? null : count(train_size, "train_size");
    const nTest = testFrac !== null ? Math.ceil(testFrac * n) : n - Math.floor((trainFrac as number) * n);
    const nTrain = trainFrac !== null ? Math.floor(trainFrac * n) : n - nTest;
    check(
      nTrain + nTest <= n && nTrain > 0 && nTest > 0,
      `train_test_split: ${nTrain} train and ${nTest} test rows do not fit ${n} rows (each split needs at least one)`,
    );
    const order = shuffle ? permutation(n, seed) : Array.from({ length: n }, (_, i) => i);
    return DatasetDict.of({ train: this.select(order.slice(nTest, nTest + nTrain)), test: this.select(order.slice(0, nTest)) });
  }

  /** The same rows, returned as tensors by getitem ("torch") or as stored (null). */
  with_format(type: "torch", options?: FormatOptions): Dataset<{ [K in keyof R]: TorchValue<R[K]> }>;
  with_format(type: null, options?: FormatOptions): Dataset<R>;
  with_format(type: "torch" | null, { columns = null, output_all_columns = false }: FormatOptions = {}): Dataset<Row> {
    check(
      type === "torch" || type === null,
      `Dataset.with_format: format ${JSON.stringify(type)} is not supported (supported: "torch", null)`,
    );
    for (const c of columns ?? [])
      check(this.column_names.includes(c), `Dataset.with_format: no column '${c}' (columns: ${this.column_names.join(", ")})`);
    return new Dataset(this.rows, { column_names: this.column_names, format: { type, columns, output_all_columns }, split: this.split });
  }

  remove_columns(columns: string | string[]): Dataset<Row> {
    const drop = typeof columns === "string" ? [columns] : columns;
    for (const c of drop)
      check(this.column_names.includes(c), `Dataset.remove_columns: no column '${c}' (columns: ${this.column_names.join(", ")})`);
    return this.map(() => ({}), { remove_columns: drop }) as Dataset<Row>;
  }

  override toString(): string {
    return `Dataset({\n    features: [${this.column_names.map((c) => `'${c}'`).join(", ")}],\n    num_rows: ${this.rows.length}\n})`;
  }
}

function checkedOutput(v: unknown, what: string): Row {
  if (v === null || typeof v !== "object" || Array.isArray(v))
    throw new TypeError(
      `${what}: the function must return an object of columns (or {}), got ${v === null ? "null" : Array.isArray(v) ? "an array" : typeof v}`,
    );
  return v as Row;
}

/** A DatasetDict typed with its splits: `dd["train"]` is a Dataset. */
export type DatasetDictOf<R extends Row = Row> = DatasetDict<R> & { readonly [split: string]: Dataset<R> };

/**
 * Splits by name, as datasets' DatasetDict: `dd["train"]` (own properties, one per split);
 * map/filter/shuffle/with_format apply to every split.
 */
export class DatasetDict<R extends Row = Row> {
  private constructor(splits: Record<string, Dataset<R>>) {
    Object.assign(this, splits);
  }

  static of<R extends Row>(splits: Record<string, Dataset<R>>): DatasetDictOf<R> {
    return new DatasetDict<R>(splits) as DatasetDictOf<R>;
  }

  /** The splits, in order. */
  items(): [string, Dataset<R>][] {
    return Object.entries(this).filter((e): e is [string, Dataset<R>] => e[1] instanceof Dataset);
  }

  keys(): string[] {
    return this.items().map(([k]) => k);
  }

  /** The split `name`, with an error naming the splits there are. */
  get(name: string): Dataset<R> {
    const d = (this as Record<string, unknown>)[name];
    if (!(d instanceof Dataset)) throw new Error(`DatasetDict: no split '${name}' (splits: ${this.keys().join(", ")})`);
    return d as Dataset<R>;
  }

  private each<S extends Row>(f: (d: Dataset<R>) => Dataset<S>): DatasetDictOf<S> {
    return DatasetDict.of<S>(Object.fromEntries(this.items().map(([k, d]) => [k, f(d)])));
  }

  map<O extends object>(fn: (example: R, index: number) => O, options?: MapOptions & { batched?: false }): DatasetDictOf<Mapped<R, O>>;
  map<O extends object>(
    fn: (batch: Batch<R>, indices: number[]) => O,
    options: MapOptions & { batched: true },
  ): DatasetDictOf<BatchMapped<R, O>>;
  map(fn: (input: never, index: never) => object, options: MapOptions = {}): unknown {
    return this.each((d) => (d.map as (f: unknown, o: MapOptions) => Dataset<Row>)(fn, options));
  }

  filter(fn: (example: R, index: number) => boolean): DatasetDictOf<R> {
    return this.each((d) => d.filter(fn));
  }

  shuffle(options: { seed?: number | null } = {}): DatasetDictOf<R> {
    return this.each((d) => d.shuffle(options));
  }

  with_format(type: "torch", options?: FormatOptions): DatasetDictOf<{ [K in keyof R]: TorchValue<R[K]> }> {
    return this.each((d) => d.with_format(type, options));
  }
}
