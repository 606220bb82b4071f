// DataLoader behaviour that has no Python counterpart to compare with: async datasets, `for await`,
// prefetch depth and overlap, iterable-style datasets, plain arrays. Expected values by hand.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { torch } from "../../src/index.js";
import type { Tensor } from "../../src/torch/tensor.js";

const { DataLoader, Dataset, IterableDataset, TensorDataset, Subset } = torch.utils.data;

// getitem resolves after a timer; counts the calls in flight.
class SlowDataset extends Dataset<number> {
  inFlight = 0;
  maxInFlight = 0;
  readonly log: string[] = [];
  constructor(private readonly n: number) {
    super();
  }
  async getitem(i: number): Promise<number> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await sleep(2);
    this.inFlight--;
    this.log.push(`load ${i}`);
    return i;
  }
  len(): number {
    return this.n;
  }
}

class Range extends IterableDataset<number> {
  constructor(private readonly n: number) {
    super();
  }
  *[Symbol.iterator](): Iterator<number> {
    for (let i = 0; i < this.n; i++) yield i;
  }
  override len(): number {
    return this.n;
  }
}

class AsyncRange extends IterableDataset<number> {
  constructor(private readonly n: number) {
    super();
  }
  async *[Symbol.asyncIterator](): AsyncIterator<number> {
    for (let i = 0; i < this.n; i++) {
      await sleep(1);
      yield i;
    }
  }
}

const values = (batches: Tensor[]) => batches.map((b) => b.tolist());

async function collect<B>(loader: AsyncIterable<B>): Promise<B[]> {
  const out: B[] = [];
  for await (const b of loader) out.push(b);
  return out;
}

test("for await gives the same batches as for-of, with and without prefetching workers", async () => {
  const ds = new TensorDataset(torch.arange(10));
  const make = (num_workers: number) =>
    new DataLoader(ds, { batch_size: 3, shuffle: true, generator: new torch.Generator().manual_seed(5), num_workers });
  const sync = [...make(0)].map((b) => b[0].tolist());
  assert.deepEqual(
    (await collect(make(0))).map((b) => b[0].tolist()),
    sync,
  );
  assert.deepEqual(
    (await collect(make(2))).map((b) => b[0].tolist()),
    sync,
  );
});

test("async getitem: prefetch_factor * num_workers batches in flight, one batch without workers", async () => {
  const none = new SlowDataset(16);
  assert.deepEqual(values(await collect(new DataLoader(none, { batch_size: 2 }))), [
    [0, 1],
    [2, 3],
    [4, 5],
    [6, 7],
    [8, 9],
    [10, 11],
    [12, 13],
    [14, 15],
  ]);
  assert.equal(none.maxInFlight, 2);
  const ds = new SlowDataset(16);
  const batches = await collect(new DataLoader(ds, { batch_size: 2, num_workers: 2, prefetch_factor: 2 }));
  assert.deepEqual(values(batches), [
    [0, 1],
    [2, 3],
    [4, 5],
    [6, 7],
    [8, 9],
    [10, 11],
    [12, 13],
    [14, 15],
  ]);
  assert.equal(ds.maxInFlight, 8);
});

test("the next batch loads while the consumer's step awaits", async () => {
  const ds = new SlowDataset(4);
  const loader = new DataLoader(ds, { batch_size: 1, num_workers: 1, prefetch_factor: 1 });
  for await (const b of loader) {
    ds.log.push(`step ${b.tolist()} begins`);
    await sleep(10);
    ds.log.push(`step ${b.tolist()} ends`);
  }
  assert.deepEqual(ds.log, [
    "load 0",
    "step 0 begins",
    "load 1",
    "step 0 ends",
    "step 1 begins",
    "load 2",
    "step 1 ends",
    "step 2 begins",
    "load 3",
    "step 2 ends",
    "step 3 begins",
    "step 3 ends",
  ]);
});

test("an async dataset under for-of says to use for await", () => {
  assert.throws(
    () => [...new DataLoader(new SlowDataset(2), { batch_size: 1 })],
    /getitem returned a Promise; iterate the DataLoader with `for await`/,
  );
  assert.throws(() => new DataLoader(new AsyncRange(2))[Symbol.iterator](), /has no \[Symbol.iterator\]/);
});

test("an error in getitem reaches the consumer at its batch, prefetched or not", async () => {
  class Bad extends Dataset<number> {
    getitem(i: number): number {
      if (i === 3) throw new Error("bad sample 3");
      return i;
    }
    len(): number {
      return 6;
    }
  }
  for (const num_workers of [0, 2]) {
    const seen: number[][] = [];
    await assert.rejects(async () => {
      for await (const b of new DataLoader(new Bad(), { batch_size: 2, num_workers })) seen.push(b.tolist() as number[]);
    }, /bad sample 3/);
    assert.deepEqual(seen, [[0, 1]]);
  }
});

test("IterableDataset: batches in stream order, short last batch, drop_last, len(), unbatched", async () => {
  assert.deepEqual(values([...new DataLoader(new Range(10), { batch_size: 4 })]), [
    [0, 1, 2, 3],
    [4, 5, 6, 7],
    [8, 9],
  ]);
  assert.deepEqual(values([...new DataLoader(new Range(10), { batch_size: 4, drop_last: true })]), [
    [0, 1, 2, 3],
    [4, 5, 6, 7],
  ]);
  assert.deepEqual(values([...new DataLoader(new Range(8), { batch_size: 4 })]), [
    [0, 1, 2, 3],
    [4, 5, 6, 7],
  ]);
  assert.deepEqual(
    [new DataLoader(new Range(10), { batch_size: 4 }).len(), new DataLoader(new Range(10), { batch_size: 4, drop_last: true }).len()],
    [3, 2],
  );
  assert.deepEqual([...new DataLoader<number, number>(new Range(3), { batch_size: null })], [0, 1, 2]);
  assert.deepEqual(values(await collect(new DataLoader(new AsyncRange(7), { batch_size: 3, num_workers: 2 }))), [
    [0, 1, 2],
    [3, 4, 5],
    [6],
  ]);
  assert.deepEqual(values(await collect(new DataLoader(new Range(5), { batch_size: 2, drop_last: true }))), [
    [0, 1],
    [2, 3],
  ]);
  assert.throws(() => new DataLoader(new Range(3), { shuffle: true }), /expected unspecified shuffle option, but got shuffle=true/);
});

test("timeout: a prefetched batch slower than the limit rejects; without workers it is refused", async () => {
  class Stuck extends Dataset<number> {
    getitem(): Promise<number> {
      return sleep(300).then(() => 0);
    }
    len(): number {
      return 2;
    }
  }
  await assert.rejects(collect(new DataLoader(new Stuck(), { num_workers: 1, timeout: 0.02 })), /DataLoader timed out after 0.02 seconds/);
  assert.throws(() => [...new DataLoader(new Stuck(), { timeout: 1 })], /timeout needs num_workers > 0/);
});

test("plain arrays, Subset and TensorDataset as datasets; dict samples collate per key", () => {
  const samples = [
    { input_ids: torch.tensor([1, 2], { dtype: torch.int64 }), label: 0 },
    { input_ids: torch.tensor([3, 4], { dtype: torch.int64 }), label: 1 },
    { input_ids: torch.tensor([5, 6], { dtype: torch.int64 }), label: 0.5 },
  ];
  const [batch] = [...new DataLoader(samples, { batch_size: 3 })];
  assert.deepEqual(batch.input_ids.tolist(), [
    [1, 2],
    [3, 4],
    [5, 6],
  ]);
  assert.equal(batch.input_ids.dtype, torch.int64);
  assert.equal(batch.label.dtype, torch.float64);
  assert.deepEqual(batch.label.tolist(), [0, 1, 0.5]);

  const sub = new Subset(new TensorDataset(torch.arange(6).mul(10)), [5, 0, 2]);
  assert.deepEqual(
    [...new DataLoader(sub, { batch_size: 2 })].map((b) => b[0].tolist()),
    [[50, 0], [20]],
  );
  assert.throws(() => new TensorDataset(torch.zeros(3), torch.zeros(4)), /Size mismatch between tensors/);
  assert.throws(
    () => new DataLoader({} as never),
    /dataset must be a Dataset, an IterableDataset, an array or a dict of equal-length tensors, got Object/,
  );
});

test("collate_fn receives the list of samples; Map samples keep their keys", () => {
  const loader = new DataLoader(["a", "bb", "ccc"], { batch_size: 2, collate_fn: (b: string[]) => b.join("+") });
  assert.deepEqual([...loader], ["a+bb", "ccc"]);
  const maps = [new Map([["k", 1]]), new Map([["k", 2]])];
  const [m] = [...new DataLoader(maps, { batch_size: 2 })];
  assert.deepEqual(m.get("k")?.tolist(), [1, 2]);
});
