// The data-parallel ranks of a job and how ZeRO splits them: one shard group spanning every rank,
// or, with hybrid sharding, one shard group per node (its local ranks are neighbours) and replica
// groups of the ranks holding the same chunk on every node. Every rank creates every group, in the
// same order, as torch.distributed.new_group requires. With tensor or pipeline parallelism the job is
// a (pp, dp_replicate, dp_shard, tp) device mesh, TP innermost so that its ranks are neighbours and
// PP outermost (the planner's numbering): the data-parallel groups above are then made of the ranks
// with the same TP rank and pipeline stage.
import * as dist from "../torch/distributed/index.js";
import { init_device_mesh, type DeviceMesh } from "../torch/distributed/device_mesh.js";
import type { Group, ProcessGroup } from "../torch/distributed/process_group.js";
import { nodeLocalDp } from "./planner/layout.js";

export interface DataParallelMesh {
  world: number;
  rank: number;
  shardGroup: Group | null;
  shardSize: number;
  shardRank: number;
  replicateGroup: Group | null;
  replicateSize: number;
  /** Tensor-parallel ranks per data-parallel rank, and their group (null when tp is 1). */
  tp: number;
  tpGroup: ProcessGroup | null;
  /** Data-parallel ranks (world / tp), and the group of this rank's (null: the default group when tp is 1). */
  dp: number;
  dpGroup: ProcessGroup | null;
  /** Pipeline stages per data-parallel replica, and the group of this rank's pipeline, stage order (null when pp is 1). */
  pp: number;
  ppGroup: ProcessGroup | null;
  /** The job as a (pp, dp_replicate, dp_shard, tp) mesh, when tensor or pipeline parallel. */
  device: DeviceMesh | null;
}

export const MESH_DIMS = ["pp", "dp_replicate", "dp_shard", "tp"];

/** Ranks per node: the launcher's LOCAL_WORLD_SIZE (torchrun's), else the whole job is one node. */
export function ranksPerNode(world: number): number {
  const local = Number(process.env.LOCAL_WORLD_SIZE);
  return Number.isInteger(local) && local > 0 && world % local === 0 ? local : world;
}

export function dataParallelMesh(hybrid: boolean, shard: boolean, tp = 1, pp = 1): DataParallelMesh {
  const world = dist.is_initialized() ? dist.get_world_size() : 1;
  const rank = dist.is_initialized() ? dist.get_rank() : 0;
  if (tp > 1 || pp > 1) return tensorParallelMesh(hybrid, shard, tp, world, rank, pp);
  const plain = { tp: 1, tpGroup: null, dp: world, dpGroup: null, pp: 1, ppGroup: null, device: null };
  if (world === 1) return { world, rank, shardGroup: null, shardSize: 1, shardRank: 0, replicateGroup: null, replicateSize: 1, ...plain };
  if (!shard) return { world, rank, shardGroup: null, shardSize: 1, shardRank: 0, replicateGroup: null, replicateSize: world, ...plain };
  const perNode = hybrid ? ranksPerNode(world) : world;
  if (perNode === world)
    return { world, rank, shardGroup: null, shardSize: world, shardRank: rank, replicateGroup: null, replicateSize: 1, ...plain };
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
  return { world, rank, shardGroup, shardSize: perNode, shardRank: rank % perNode, replicateGroup, replicateSize: nodes, ...plain };
}

/** The group of `mesh`'s dimensions `dims` (flattened when several span ranks), or null when it has one rank. */
export function meshGroup(mesh: DeviceMesh, dims: string[]): ProcessGroup | null {
  const spanning = dims.filter((d) => mesh.size(d) > 1);
  if (spanning.length === 0) return null;
  return spanning.length === 1 ? mesh.get_group(spanning[0]) : mesh.get(spanning)._flatten().get_group();
}

function tensorParallelMesh(hybrid: boolean, shard: boolean, tp: number, world: number, rank: number, pp: number): DataParallelMesh {
  if (world % (tp * pp) !== 0) throw new Error(`tp ${tp} × pp ${pp} does not divide the job's ${world} ranks`);
  const dp = world / (tp * pp);
  // The shard group is what the planner's hybrid sharding assumes: the DP ranks sharing a node.
  const shardSize = !shard ? 1 : hybrid ? nodeLocalDp({ gpusPerNode: ranksPerNode(world) }, { dp, tp }) : dp;
  const device = init_device_mesh(dist.get_backend() === "nccl" ? "cuda" : "cpu", [pp, dp / shardSize, shardSize, tp], {
    mesh_dim_names: MESH_DIMS,
  });
  return {
    world,
    rank,
    tp,
    dp,
    pp,
    device,
    ppGroup: meshGroup(device, ["pp"]),
    shardGroup: meshGroup(device, ["dp_shard"]),
    shardSize,
    shardRank: device.get_local_rank("dp_shard"),
    replicateGroup: meshGroup(device, ["dp_replicate"]),
    replicateSize: dp / shardSize,
    tpGroup: meshGroup(device, ["tp"]),
    dpGroup: meshGroup(device, ["dp_replicate", "dp_shard"]),
  };
}

/**
 * Splits each of `mesh`'s groups along `dim` into runs of `size` consecutive ranks (every rank
 * makes every group); returns this rank's run.
 */
export function subgroups(mesh: DeviceMesh, dim: string, size: number): ProcessGroup {
  const n = mesh.size(dim);
  const all = mesh.mesh.movedim(mesh.mesh_dim_names!.indexOf(dim), -1).reshape(-1, n).tolist() as number[][];
  const me = dist.get_rank();
  let mine: ProcessGroup | null = null;
  for (const ranks of all) {
    for (let i = 0; i < n; i += size) {
      const run = ranks.slice(i, i + size);
      const g = dist.new_group(run);
      if (run.includes(me)) mine = g as ProcessGroup;
    }
  }
  if (mine === null) throw new Error("subgroups: this rank is not in the mesh");
  return mine;
}
