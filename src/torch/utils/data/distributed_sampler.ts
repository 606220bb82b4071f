// torch.utils.data.distributed.DistributedSampler: each of `num_replicas` ranks reads its own
// strided share of one (optionally shuffled) order, padded or trimmed to split evenly.
import "../../_generated/tensor_methods.js";
import { randperm } from "../../_generated/functions.js";
import { Generator } from "../../generator.js";
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
    if (!this.drop_last) {
      // Pad by repeating the order from its start until it divides evenly.
      for (let i = 0; indices.length < this.total_size; i++) indices.push(indices[i % n]);
    } else {
      indices = indices.slice(0, this.total_size);
    }
    return indices.filter((_, i) => i % this.num_replicas === this.rank)[Symbol.iterator]();
  }

  override len(): number {
    return this.num_samples;
  }

  /** Changes the shuffle for the next pass (the permutation is seeded with `seed + epoch`). */
  set_epoch(epoch: number): void {
    this.epoch = epoch;
  }
}
