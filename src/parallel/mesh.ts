// The data-parallel ranks of a job and how ZeRO splits them: one shard group spanning every rank,
// or, with hybrid sharding, one shard group per node (its local ranks are neighbours) and replica
// groups of the ranks holding the same chunk on every node. Every rank creates every group, in the
// same order, as torch.distributed.new_group requires.
import * as dist from "../torch/distributed/index.js";
import type { Group } from "../torch/distributed/process_group.js";

export interface DataParallelMesh {
  world: number;
  rank: number;
  shardGroup: Group | null;
  shardSize: number;
  shardRank: number;
  replicateGroup: Group | null;
  replicateSize: number;
}

/** Ranks per node: the launcher's LOCAL_WORLD_SIZE (torchrun's), else the whole job is one node. */
export function ranksPerNode(world: number): number {
  const local = Number(process.env.LOCAL_WORLD_SIZE);
  return Number.isInteger(local) && local > 0 && world % local === 0 ? local : world;
}

export function dataParallelMesh(hybrid: boolean, shard: boolean): DataParallelMesh {
  const world = dist.is_initialized() ? dist.get_world_size() : 1;
  const rank = dist.is_initialized() ? dist.get_rank() : 0;
  if (world === 1) return { world, rank, shardGroup: null, shardSize: 1, shardRank: 0, replicateGroup: null, replicateSize: 1 };
  if (!shard) return { world, rank, shardGroup: null, shardSize: 1, shardRank: 0, replicateGroup: null, replicateSize: world };
  const perNode = hybrid ? ranksPerNode(world) : world;
  if (perNode === world) return { world, rank, shardGroup: null, shardSize: world, shardRank: rank, replicateGroup: null, replicateSize: 1 };
  const nodes = world / perNode;
  let shardGroup: Group | null = null;
  let replicateGroup: Group | null = null;
  for (let n = 0; n < nodes; n++) {
    const g = dist.new_group(Array.from({ length: perNode }, (_, i) => n * perNode + i));
    if (Math.floor(rank / perNode) === n) shardGroup = g;
  }
  for (let i = 0; i < perNode; i++) {
    const g = dist.new_group(Array.from({ length: nodes }, (_, n) => n * perNode + i));
    if (rank % perNode === i) replicateGroup = g;
  }
  return { world, rank, shardGroup, shardSize: perNode, shardRank: rank % perNode, replicateGroup, replicateSize: nodes };
}
