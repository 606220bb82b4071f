// torch.utils.data against Python PyTorch: sample orders for the same seeds, DistributedSampler
// splits, random_split, default_collate, and the error messages — all from one Python run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { torch } from "../../src/index.js";
import type { Tensor } from "../../src/torch/tensor.js";
import { assertClose, runPython, type PyValue } from "../helpers/oracle.js";

const {
  DataLoader,
  TensorDataset,
  RandomSampler,
  SubsetRandomSampler,
  DistributedSampler,
  BatchSampler,
  SequentialSampler,
  random_split,
  default_collate,
} = torch.utils.data;

const N = 10;
const DIST_SIZES = [10, 11];
const REPLICAS = [2, 3, 4];

const py = runPython(
  String.raw`
from torch.utils.data import *
def firsts(dl): return [b[0].tolist() for b in dl]
ds = TensorDataset(torch.arange(${N}), torch.arange(${N}) * 2)
for dl_drop in (False, True):
    g = torch.Generator().manual_seed(42)
    dl = DataLoader(ds, batch_size=3, shuffle=True, generator=g, drop_last=dl_drop)
    out["gen_drop%d" % dl_drop] = [firsts(dl), firsts(dl)]
torch.manual_seed(7)
dl = DataLoader(ds, batch_size=4, shuffle=True)
out["global"] = [firsts(dl), firsts(dl)]
out["seq"] = [[b[0].tolist(), b[1].tolist()] for b in DataLoader(ds, batch_size=4)]
out["seq_drop"] = [b[0].tolist() for b in DataLoader(ds, batch_size=4, drop_last=True)]
out["lens"] = [len(DataLoader(ds, batch_size=4)), len(DataLoader(ds, batch_size=4, drop_last=True)), len(DataLoader(ds, batch_size=None))]
g = torch.Generator().manual_seed(3)
out["repl"] = list(RandomSampler(range(${N}), replacement=True, num_samples=70, generator=g))
out["more"] = list(RandomSampler(range(${N}), num_samples=25, generator=g))
torch.manual_seed(11)
out["default_sampler"] = [list(RandomSampler(range(${N}))), list(RandomSampler(range(${N})))]
out["subset_rs"] = list(SubsetRandomSampler([5, 7, 9, 11, 13], generator=torch.Generator().manual_seed(1)))
out["batch_sampler"] = [b[0].tolist() for b in DataLoader(ds, batch_sampler=BatchSampler(SequentialSampler(range(7)), 3, False))]
dist = {}
for n in ${JSON.stringify(DIST_SIZES)}:
    for r in ${JSON.stringify(REPLICAS)}:
        for sh in (0, 1):
            for dr in (0, 1):
                per_epoch = []
                for ep in (0, 1):
                    ranks = []
                    for rank in range(r):
                        s = DistributedSampler(range(n), num_replicas=r, rank=rank, shuffle=bool(sh), seed=5, drop_last=bool(dr))
                        s.set_epoch(ep)
                        ranks.append(list(s) + [len(s)])
                    per_epoch.append(ranks)
                dist["%d_%d_%d_%d" % (n, r, sh, dr)] = per_epoch
out["dist"] = dist
g = torch.Generator().manual_seed(1)
out["split"] = [[list(s.indices) for s in random_split(range(10), [3, 7], generator=g)],
                [list(s.indices) for s in random_split(range(11), [0.3, 0.3, 0.4], generator=g)]]
torch.manual_seed(2)
out["split_default"] = [list(s.indices) for s in random_split(range(6), [2, 4])]
out["collate"] = {
    "tensors": default_collate([t_a, t_b]),
    "ints": default_collate([1, 2, 3]),
    "floats": default_collate([1.5, 2.0, -3.25]),
    "bools": default_collate([True, False]),
    "nested": default_collate([{"x": t_a, "y": [1, 2.5], "s": "a"}, {"x": t_b, "y": [3, 4.0], "s": "b"}]),
    "tuples": default_collate([(t_i, 0), (t_i * 2, 1)]),
}
def err(f):
    try:
        f()
    except Exception as e:
        return str(e)
    return None
out["errors"] = [
    err(lambda: DataLoader(ds, batch_size=0)),
    err(lambda: DataLoader(ds, sampler=SequentialSampler(ds), shuffle=True)),
    err(lambda: DataLoader(ds, batch_sampler=BatchSampler(SequentialSampler(ds), 2, False), batch_size=3)),
    err(lambda: DataLoader(ds, batch_size=None, drop_last=True)),
    err(lambda: DataLoader(ds, num_workers=-1)),
    err(lambda: DataLoader(ds, prefetch_factor=2)),
    err(lambda: DataLoader([], shuffle=True)),
    err(lambda: DistributedSampler(ds, num_replicas=2, rank=2)),
    err(lambda: random_split(range(5), [2, 2])),
    err(lambda: RandomSampler(ds, num_samples=0)),
    err(lambda: DataLoader(ds, persistent_workers=True)),
]
out["empty_drop"] = [len(DataLoader([], batch_size=2, drop_last=True)), [b for b in DataLoader([], batch_size=2, drop_last=True)]]
`,
  {
    t_a: torch.tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]),
    t_b: torch.tensor([
      [7, 8, 9],
      [10, 11, 12],
    ]),
    t_i: torch.arange(3),
  },
);

const ds = new TensorDataset(torch.arange(N), torch.arange(N).mul(2));
const firsts = (batches: Iterable<Tensor[]>) => [...batches].map((b) => b[0].tolist());

test("DataLoader shuffle with a seeded generator: two epochs in Python's order (drop_last off/on)", () => {
  for (const drop_last of [false, true]) {
    const dl = new DataLoader(ds, { batch_size: 3, shuffle: true, generator: new torch.Generator().manual_seed(42), drop_last });
    assert.deepEqual([firsts(dl), firsts(dl)], py[`gen_drop${Number(drop_last)}`]);
  }
});

test("DataLoader shuffle with torch.manual_seed and no generator: two epochs in Python's order", () => {
  torch.manual_seed(7);
  const dl = new DataLoader(ds, { batch_size: 4, shuffle: true });
  assert.deepEqual([firsts(dl), firsts(dl)], py.global);
});

test("sequential batches, the last partial batch, drop_last and len()", () => {
  assert.deepEqual(
    [...new DataLoader(ds, { batch_size: 4 })].map((b) => b.map((t) => t.tolist())),
    py.seq,
  );
  assert.deepEqual(firsts(new DataLoader(ds, { batch_size: 4, drop_last: true })), py.seq_drop);
  const lens = [
    new DataLoader(ds, { batch_size: 4 }).len(),
    new DataLoader(ds, { batch_size: 4, drop_last: true }).len(),
    new DataLoader(ds, { batch_size: null }).len(),
  ];
  assert.deepEqual(lens, py.lens);
  const custom = new DataLoader(ds, { batch_sampler: new BatchSampler(new SequentialSampler(Array.from({ length: 7 })), 3, false) });
  assert.deepEqual(firsts(custom), py.batch_sampler);
});

test("RandomSampler: replacement in chunks of 32, num_samples beyond len, default generator; SubsetRandomSampler", () => {
  const g = new torch.Generator().manual_seed(3);
  const range = Array.from({ length: N }, (_, i) => i);
  assert.deepEqual([...new RandomSampler(range, { replacement: true, num_samples: 70, generator: g })], py.repl);
  assert.deepEqual([...new RandomSampler(range, { num_samples: 25, generator: g })], py.more);
  torch.manual_seed(11);
  assert.deepEqual([[...new RandomSampler(range)], [...new RandomSampler(range)]], py.default_sampler);
  assert.deepEqual([...new SubsetRandomSampler([5, 7, 9, 11, 13], new torch.Generator().manual_seed(1))], py.subset_rs);
});

test("DistributedSampler splits like Python (sizes 10/11, replicas 2/3/4, shuffle, drop_last, set_epoch)", () => {
  const dist = py.dist as Record<string, PyValue>;
  for (const n of DIST_SIZES) {
    for (const r of REPLICAS) {
      for (const shuffle of [false, true]) {
        for (const drop_last of [false, true]) {
          const perEpoch = [0, 1].map((epoch) =>
            Array.from({ length: r }, (_, rank) => {
              const s = new DistributedSampler(Array.from({ length: n }), { num_replicas: r, rank, shuffle, seed: 5, drop_last });
              s.set_epoch(epoch);
              return [...s, s.len()];
            }),
          );
          assert.deepEqual(
            perEpoch,
            dist[`${n}_${r}_${Number(shuffle)}_${Number(drop_last)}`],
            `n=${n} r=${r} shuffle=${shuffle} drop_last=${drop_last}`,
          );
        }
      }
    }
  }
});

test("random_split: lengths and fractions with a generator, and with the default generator", () => {
  const g = new torch.Generator().manual_seed(1);
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const split = [random_split(range(10), [3, 7], g), random_split(range(11), [0.3, 0.3, 0.4], g)].map((ss) =>
    ss.map((s) => [...s.indices]),
  );
  assert.deepEqual(split, py.split);
  torch.manual_seed(2);
  assert.deepEqual(
    random_split(range(6), [2, 4]).map((s) => [...s.indices]),
    py.split_default,
  );
});

test("default_collate matches Python's dtypes and values", () => {
  const e = py.collate as Record<string, PyValue>;
  const t_a = torch.tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const t_b = torch.tensor([
    [7, 8, 9],
    [10, 11, 12],
  ]);
  const t_i = torch.arange(3);
  const check = (actual: Tensor, expected: PyValue, msg: string) => {
    const exp = expected as Tensor;
    assert.equal(actual.dtype, exp.dtype, `${msg}: dtype`);
    assertClose(actual, exp, { msg, rtol: 0, atol: 0 });
  };
  check(default_collate([t_a, t_b]), e.tensors, "tensors");
  check(default_collate([1, 2, 3]), e.ints, "ints");
  check(default_collate([1.5, 2.0, -3.25]), e.floats, "floats");
  check(default_collate([true, false]), e.bools, "bools");
  const nested = default_collate([
    { x: t_a, y: [1, 2.5], s: "a" },
    { x: t_b, y: [3, 4.0], s: "b" },
  ]);
  const en = e.nested as Record<string, PyValue>;
  check(nested.x, en.x, "nested.x");
  // Python collates by position: y[0] holds ints (int64), y[1] holds 2.5 and 4.0 (float64).
  const ey = en.y as PyValue[];
  check(nested.y[0], ey[0], "nested.y[0]");
  check(nested.y[1], ey[1], "nested.y[1]");
  assert.deepEqual(nested.s, en.s);
  const tuples = default_collate([
    [t_i, 0],
    [t_i.mul(2), 1],
  ] as [Tensor, number][]);
  const et = e.tuples as PyValue[];
  check(tuples[0], et[0], "tuples[0]");
  check(tuples[1], et[1], "tuples[1]");
});

test("errors carry PyTorch's messages", () => {
  const errors = py.errors as (string | null)[];
  const message = (f: () => unknown): string | null => {
    try {
      f();
    } catch (err) {
      return (err as Error).message;
    }
    return null;
  };
  const actual = [
    message(() => new DataLoader(ds, { batch_size: 0 })),
    message(() => new DataLoader(ds, { sampler: new SequentialSampler(ds), shuffle: true })),
    message(() => new DataLoader(ds, { batch_sampler: new BatchSampler(new SequentialSampler(ds), 2, false), batch_size: 3 })),
    message(() => new DataLoader(ds, { batch_size: null, drop_last: true })),
    message(() => new DataLoader(ds, { num_workers: -1 })),
    message(() => new DataLoader(ds, { prefetch_factor: 2 })),
    message(() => new DataLoader([], { shuffle: true })),
    message(() => new DistributedSampler(ds, { num_replicas: 2, rank: 2 })),
    message(() => random_split([0, 1, 2, 3, 4], [2, 2])),
    message(() => new RandomSampler(ds, { num_samples: 0 })),
    message(() => new DataLoader(ds, { persistent_workers: true })),
  ];
  assert.deepEqual(actual, errors);
  const [n, batches] = py.empty_drop as [number, PyValue[]];
  const empty = new DataLoader([], { batch_size: 2, drop_last: true });
  assert.deepEqual([empty.len(), [...empty]], [n, batches]);
});
