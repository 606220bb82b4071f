// torch.utils.data.distributed.DistributedSampler: each of `num_replicas` ranks reads its own
// strided share of one (optionally shuffled) order, padded or trimmed to split evenly.
import { ValueError } from "../../errors.js";
import "../../_generated/tensor_methods.js";
import { randperm } from "../../_generated/functions.js";
import { Generator } from "../../generator.js";
import type { DataShard } from "../../moreh.js";
import { len, type Sized } from "./dataset.js";
import { BatchSampler, Sampler } from "./sampler.js";
import { checkOptions } from "../../_options.js";

export interface DistributedSamplerOptions {
  num_replicas?: number;
  rank?: number;
  shuffle?: boolean;
  seed?: number;
  drop_last?: boolean;
}

// Python asks the default process group; without one here, the launcher's environment
// (WORLD_SIZE / RANK, as torchrun sets them) gives the same numbers.
function fromEnv(name: "WORLD_SIZE" | "RANK", option: string): number {
  const v = process.env[name];
  if (v === undefined || !/^\d+$/.test(v)) {
    throw new Error(`DistributedSampler: pass ${option} (no process group is initialized and ${name} is not set in the environment)`);
  }
  return Number(v);
}

/**
 * `indices[rank::num_replicas]` after the order is padded (by repeating it from its start) or
 * trimmed to `total_size`, so that every rank gets the same count.
 */
function rankShare(indices: number[], total_size: number, num_replicas: number, rank: number): number[] {
  const n = indices.length;
  const order =
    n >= total_size ? indices.slice(0, total_size) : indices.concat(Array.from({ length: total_size - n }, (_, i) => indices[i % n]));
  return order.filter((_, i) => i % num_replicas === rank);
}

export class DistributedSampler extends Sampler<number> {
  readonly num_replicas: number;
  readonly rank: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly drop_last: boolean;
  readonly num_samples: number;
  readonly total_size: number;
  epoch = 0;

  constructor(
    readonly dataset: Sized,
    opts: DistributedSamplerOptions = {},
  ) {
    super();
    checkOptions("DistributedSampler.__init__", opts, { num_replicas: true, rank: true, shuffle: true, seed: true, drop_last: true });
    const { num_replicas, rank, shuffle = true, seed = 0, drop_last = false } = opts;
    this.num_replicas = num_replicas ?? fromEnv("WORLD_SIZE", "num_replicas");
    this.rank = rank ?? fromEnv("RANK", "rank");
    if (this.rank >= this.num_replicas || this.rank < 0) {
      throw new ValueError(`Invalid rank ${this.rank}, rank should be in the interval [0, ${this.num_replicas - 1}]`);
    }
    this.shuffle = shuffle;
    this.seed = seed;
    this.drop_last = drop_last;
    const n = len(dataset);
    this.num_samples =
      drop_last && n % this.num_replicas !== 0 ? Math.ceil((n - this.num_replicas) / this.num_replicas) : Math.ceil(n / this.num_replicas);
    this.total_size = this.num_samples * this.num_replicas;
  }

  [Symbol.iterator](): Iterator<number> {
    const n = len(this.dataset);
    let indices: number[];
    if (this.shuffle) {
      const g = new Generator().manual_seed(this.seed + this.epoch);
      indices = randperm(n, { generator: g }).tolist() as number[];
    } else {
      indices = Array.from({ length: n }, (_, i) => i);
    }
    return rankShare(indices, this.total_size, this.num_replicas, this.rank)[Symbol.iterator]();
  }

  override len(): number {
    return this.num_samples;
  }

  /** Changes the shuffle for the next pass (the permutation is seeded with `seed + epoch`). */
  set_epoch(epoch: number): void {
    this.epoch = epoch;
  }
}

/**
 * Advanced Parallelization's view of the data: the job reads one global batch per step, as one
 * process would with the same loader, and each rank reads its contiguous share of it (as
 * `batch.chunk(world_size)[rank]`; the first `size % world_size` ranks read one more). Every rank
 * draws the order from `sampler`; `shard.same_order` makes it rank 0's.
 */
export class GlobalBatchShareSampler extends Sampler<number[]> {
  constructor(
    readonly sampler: Iterable<number>,
    readonly batch_size: number,
    readonly drop_last: boolean,
    readonly shard: DataShard,
  ) {
    super();
    if (batch_size < shard.world_size) {
      throw new ValueError(
        `DataLoader: batch_size ${batch_size} is the global batch under Advanced Parallelization and must be at least the number of data-parallel ranks (${shard.world_size})`,
      );
    }
  }

  *[Symbol.iterator](): Iterator<number[]> {
    const { rank, world_size, same_order } = this.shard;
    const order = same_order([...this.sampler]);
    for (const batch of new BatchSampler(order, this.batch_size, this.drop_last)) {
      const base = Math.floor(batch.length / world_size);
      const extra = batch.length % world_size;
      const start = rank * base + Math.min(rank, extra);
      yield batch.slice(start, start + base + (rank < extra ? 1 : 0));
    }
  }

  override len(): number {
    return new BatchSampler(this.sampler, this.batch_size, this.drop_last).len();
  }
}
