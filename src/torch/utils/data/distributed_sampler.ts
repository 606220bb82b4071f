// torch.utils.data.distributed.DistributedSampler: each of `num_replicas` ranks reads its own
// strided share of one (optionally shuffled) order, padded or trimmed to split evenly.
import "../../_generated/tensor_methods.js";
import { randperm } from "../../_generated/functions.js";
import { Generator } from "../../generator.js";
import type { DataShard } from "../../moreh.js";
import { len, type Sized } from "./dataset.js";
import { Sampler } from "./sampler.js";

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
  const order = n >= total_size ? indices.slice(0, total_size) : indices.concat(Array.from({ length: total_size - n }, (_, i) => indices[i % n]));
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
    { num_replicas, rank, shuffle = true, seed = 0, drop_last = false }: DistributedSamplerOptions = {},
  ) {
    super();
    this.num_replicas = num_replicas ?? fromEnv("WORLD_SIZE", "num_replicas");
    this.rank = rank ?? fromEnv("RANK", "rank");
    if (this.rank >= this.num_replicas || this.rank < 0) {
      throw new RangeError(`Invalid rank ${this.rank}, rank should be in the interval [0, ${this.num_replicas - 1}]`);
    }
    this.shuffle = shuffle;
    this.seed = seed;
    this.drop_last = drop_last;
    const n = len(dataset);
    this.num_samples = drop_last && n % this.num_replicas !== 0
      ? Math.ceil((n - this.num_replicas) / this.num_replicas)
      : Math.ceil(n / this.num_replicas);
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
 * DistributedSampler's split of another sampler's order: every rank draws the order from
 * `sampler` (the same generator state on every rank gives the same order; `shard.same_order`
 * makes sure of it) and reads its padded strided share. The DataLoader uses it when Advanced
 * Parallelization shards the data (torch.moreh).
 */
export class ShardedSampler extends Sampler<number> {
  constructor(
    readonly sampler: Iterable<number>,
    readonly shard: DataShard,
  ) {
    super();
  }

  [Symbol.iterator](): Iterator<number> {
    const { rank, world_size, same_order } = this.shard;
    const indices = same_order([...this.sampler]);
    return rankShare(indices, Math.ceil(indices.length / world_size) * world_size, world_size, rank)[Symbol.iterator]();
  }

  override len(): number {
    return Math.ceil(len(this.sampler) / this.shard.world_size);
  }
}
