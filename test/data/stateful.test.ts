// DataLoader.state_dict()/load_state_dict() (torchdata's StatefulDataLoader): a loader resumed
// mid-pass in a fresh process state reads the rest of the pass in the same order, and the passes
// after it too; torch.get_rng_state/set_rng_state round-trip the default generator.
import { test } from "node:test";
import assert from "node:assert/strict";
import { torch } from "../../src/index.js";

const { DataLoader, IterableDataset } = torch.utils.data;
const data = Array.from({ length: 20 }, (_, i) => i);
const ids = (b: unknown): number[] => (b as torch.Tensor).tolist() as number[];

/** Two passes of a shuffled loader: the batches, and its state and the RNG state after `stopAt` batches. */
function run(stopAt: number, make: () => InstanceType<typeof DataLoader<number>>) {
  torch.manual_seed(7);
  const loader = make();
  const seen: number[][] = [];
  let saved: { loader: torch.utils.data.DataLoaderStateDict; rng: torch.Tensor } | null = null;
  for (let pass = 0; pass < 2; pass++) {
    for (const b of loader) {
      seen.push(ids(b));
      torch.rand(1); // the training step's own draws continue the default generator
      if (seen.length === stopAt) saved = { loader: loader.state_dict(), rng: torch.get_rng_state() };
    }
  }
  return { seen, saved: saved! };
}

function resume(
  saved: ReturnType<typeof run>["saved"],
  passesLeft: number,
  make: () => InstanceType<typeof DataLoader<number>>,
): number[][] {
  torch.manual_seed(12345); // a fresh process: whatever state, the checkpoint's wins
  const loader = make();
  torch.set_rng_state(saved.rng);
  loader.load_state_dict(saved.loader);
  const seen: number[][] = [];
  for (let pass = 0; pass < passesLeft; pass++) {
    for (const b of loader) {
      seen.push(ids(b));
      torch.rand(1);
    }
  }
  return seen;
}

test("get_rng_state/set_rng_state replay the default generator", () => {
  const s = torch.get_rng_state();
  assert.equal(s.dtype, torch.uint8);
  const a = torch.randn(4).tolist();
  torch.set_rng_state(s);
  assert.deepEqual(torch.randn(4).tolist(), a);
});

for (const [name, make] of [
  ["shuffled", () => new DataLoader(data, { batch_size: 3, shuffle: true })],
  [
    "own generator, drop_last",
    () => new DataLoader(data, { batch_size: 3, shuffle: true, drop_last: true, generator: new torch.Generator().manual_seed(3) }),
  ],
] as const) {
  for (const stopAt of [2, 6]) {
    test(`${name}: resumed after ${stopAt} batches, the rest of the run reads the same batches`, () => {
      const full = run(stopAt, make);
      const rest = resume(full.saved, 2, make);
      assert.deepEqual(rest, full.seen.slice(stopAt));
    });
  }
}

test("a state taken at a pass's last batch ends that pass, then a new one; for await resumes too", async () => {
  const make = () => new DataLoader(data, { batch_size: 5, shuffle: true });
  const full = run(4, make); // 4 batches = one whole pass, whose iterator has not said done yet
  assert.equal(full.saved.loader.finished, false);
  assert.deepEqual(resume(full.saved, 2, make), full.seen.slice(4));

  const mid = run(1, make);
  torch.manual_seed(0);
  const loader = make();
  torch.set_rng_state(mid.saved.rng);
  loader.load_state_dict(mid.saved.loader);
  assert.deepEqual(loader.state_dict().num_yielded, 1, "a loaded state reads back before iterating");
  const seen: number[][] = [];
  for await (const b of loader) seen.push(ids(b));
  assert.deepEqual(seen, mid.seen.slice(1, 4));
});

test("an IterableDataset resumes by dropping the batches already handed out", () => {
  class Count extends IterableDataset<number> {
    *[Symbol.iterator]() {
      for (let i = 0; i < 10; i++) yield i;
    }
  }
  const loader = new DataLoader(new Count(), { batch_size: 4 });
  const it = loader[Symbol.iterator]();
  it.next();
  const state = loader.state_dict();
  assert.equal(state.num_yielded, 1);
  const again = new DataLoader(new Count(), { batch_size: 4 });
  again.load_state_dict(state);
  assert.deepEqual([...again].map(ids), [
    [4, 5, 6, 7],
    [8, 9],
  ]);
  assert.equal(again.state_dict().finished, true);
});
