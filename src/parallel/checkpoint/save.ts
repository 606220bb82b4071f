// save_checkpoint: every rank of a job writes what it alone holds (its chunks of the model and of
// the optimizer state, its RNG states) into its own safetensors file, in parallel, inside a hidden
// staging folder; when all have written (a barrier), rank 0 writes the metadata that says how the
// pieces were split and renames the folder into place. A crash at any point before the rename
// leaves only the staging folder, which nothing takes for a checkpoint.
import { writeFileSync } from "node:fs";
import path from "node:path";
import "../../torch/_generated/tensor_methods.js";
import { tensor } from "../../torch/creation.js";
import * as cuda from "../../torch/cuda.js";
import * as dist from "../../torch/distributed/index.js";
import { int64 } from "../../torch/dtype.js";
import { get_rng_state } from "../../torch/generator.js";
import { applied_plan } from "../../torch/moreh.js";
import type { Module } from "../../torch/nn/modules/module.js";
import type { Optimizer } from "../../torch/optim/optimizer.js";
import type { SchedulerState } from "../../torch/optim/lr_scheduler.js";
import { save_file } from "../../torch/serialization/index.js";
import { writeAtomically } from "../../torch/serialization/atomic.js";
import type { Tensor } from "../../torch/tensor.js";
import type { DataLoaderStateDict } from "../../torch/utils/data/dataloader.js";
import { FORMAT, METADATA_FILE, pack, rankFile, type CheckpointMetadata, type JsonValue, type PieceMetadata } from "./format.js";
import { commitFolder, freshStagingFolder, removeCheckpointLeftovers, stagingFolder } from "./folders.js";
import { modelPieces, persistentBuffers, type Piece } from "./layout.js";

/** Anything with PyTorch's state_dict/load_state_dict pair. */
export interface Stateful<S> {
  state_dict(): S;
  load_state_dict(state: S): void;
}

/** What a checkpoint holds: the model (sharded or not), and optionally the training loop's other state. */
export interface CheckpointState {
  model: Module;
  optimizer?: Optimizer | null;
  lr_scheduler?: Stateful<SchedulerState> | null;
  dataloader?: Stateful<DataLoaderStateDict> | null;
}

export interface SaveCheckpointOptions {
  /** The loop's own values (step, epoch, ...): load_checkpoint returns them. */
  trainer_state?: Record<string, unknown>;
  /** Writes more files into the checkpoint before it is committed (rank 0 only; a tokenizer, say). */
  write_extra?: (dir: string) => void;
}

function rankAndWorld(): { rank: number; world: number } {
  return dist.is_initialized() ? { rank: dist.get_rank(), world: dist.get_world_size() } : { rank: 0, world: 1 };
}

/** Refuses layouts whose pieces a name does not identify yet (tensor-parallel slices share their names across TP ranks). */
export function checkSupported(where: string): void {
  const plan = applied_plan();
  if (plan !== null && (plan.tp > 1 || plan.pp > 1)) throw new Error(`${where}: checkpoints of tensor- or pipeline-parallel plans are not supported yet (the plan has tp ${plan.tp}, pp ${plan.pp})`);
}

/**
 * writers[k] for chunk k: the lowest rank holding it (a chunk is held once per replica under hybrid
 * sharding, and a plain parameter by every rank). One collective over the job.
 */
function chunkWriters(pieces: Piece[], world: number): (p: Piece) => number[] {
  const sharded = pieces.find((p) => p.shard_size > 1);
  const mine = sharded?.shard_rank ?? -1;
  let shardRanks = [mine];
  if (world > 1) {
    const all = tensor(Array(world).fill(0), { dtype: int64 });
    dist.all_gather_into_tensor(all, tensor([mine], { dtype: int64 }));
    shardRanks = all.tolist() as number[];
  }
  return (p) => Array.from({ length: p.shard_size }, (_, k) => (p.shard_size === 1 ? 0 : shardRanks.indexOf(k)));
}

const isShapedLike = (v: Tensor, p: Tensor): boolean => v.dim() === p.dim() && v.shape.every((s, i) => s === p.shape[i]);

/** The model's config and generation config as save_pretrained writes them, for a merged folder (duck-typed: a plain nn module has none). */
function writeConfig(model: Module, dtypeName: string, dir: string): void {
  type Saves = { save_pretrained?: (dir: string) => void };
  const m = model as unknown as { config?: Saves & { architectures?: string[]; dtype?: string }; generation_config?: Saves };
  if (typeof m.config?.save_pretrained !== "function") return;
  m.config.architectures = [model.constructor.name];
  m.config.dtype = dtypeName;
  m.config.save_pretrained(dir);
  m.generation_config?.save_pretrained?.(dir);
}

/**
 * Saves `state` into `dir` (e.g. out/checkpoint-500). Every rank of the job calls it; each writes
 * only its own part. `dir` appears complete or not at all; an older folder there is replaced.
 */
export function save_checkpoint(dir: string, state: CheckpointState, options: SaveCheckpointOptions = {}): void {
  checkSupported("save_checkpoint");
  const { rank, world } = rankAndWorld();
  const pieces = modelPieces(state.model);
  const writersOf = chunkWriters(pieces, world);
  const staging = stagingFolder(dir);
  if (rank === 0) freshStagingFolder(dir);
  if (world > 1) dist.barrier();

  const tensors: Record<string, Tensor> = {};
  const metaPieces: PieceMetadata[] = [];
  const optimState = state.optimizer?.state;
  for (const piece of pieces) {
    const writers = writersOf(piece);
    const writes = writers[piece.shard_rank] === rank;
    const saved = piece.param.detach();
    if (writes) tensors[`model/${piece.name}`] = saved.reshape(-1).to({ device: "cpu" }).contiguous();
    const s = optimState?.get(piece.param);
    let optimizer: PieceMetadata["optimizer"] = null;
    if (s !== undefined) {
      optimizer = { chunked: [], tensors: [], values: {} };
      for (const [key, v] of Object.entries(s)) {
        if (v !== null && typeof v === "object" && isShapedLike(v, piece.param)) {
          optimizer.chunked.push(key);
          if (writes) tensors[`optim/${key}/${piece.name}`] = v.detach().reshape(-1).to({ device: "cpu" }).contiguous();
        } else if (v !== null && typeof v === "object") {
          optimizer.tensors.push(key);
          if (rank === 0) tensors[`optim_state/${key}/${piece.name}`] = v.detach().to({ device: "cpu" }).contiguous();
        } else {
          optimizer.values[key] = pack(v, key, tensors);
        }
      }
    }
    metaPieces.push({
      name: piece.name, numel: piece.numel, chunk: piece.chunk, shard_size: piece.shard_size, dtype: saved.dtype.name,
      param_dtype: piece.param_dtype.name, writers, entries: piece.entries.map(({ names, shape, offset }) => ({ names, shape, offset })), optimizer,
    });
  }
  tensors["rng/cpu"] = get_rng_state();
  if (cuda.is_available()) cuda.get_rng_state_all().forEach((s, i) => (tensors[`rng/cuda:${i}`] = s.to({ device: "cpu" })));

  let meta: CheckpointMetadata | null = null;
  if (rank === 0) {
    const buffers = persistentBuffers(state.model);
    for (const [name, b] of buffers) tensors[`buffer/${name}`] = b.detach().to({ device: "cpu" }).contiguous();
    const groups = state.optimizer?.state_dict().param_groups.map(({ params: _ids, ...hyper }) => pack(hyper, "param_groups", tensors));
    meta = {
      format: FORMAT, version: 1, world_size: world, plan: pack(applied_plan(), "plan", tensors), files: Array.from({ length: world }, (_, r) => rankFile(r)),
      pieces: metaPieces, buffers: [...buffers.keys()], optimizer: groups === undefined ? null : { param_groups: groups },
      lr_scheduler: pack(state.lr_scheduler?.state_dict() ?? null, "state/lr_scheduler", tensors),
      dataloader: pack(state.dataloader?.state_dict() ?? null, "state/dataloader", tensors),
      trainer_state: pack(options.trainer_state ?? null, "state/trainer_state", tensors),
    };
  }
  save_file(tensors, path.join(staging, rankFile(rank)), { format: "pt", rank: String(rank), world_size: String(world) });
  if (world > 1) dist.barrier();

  if (rank === 0) {
    writeConfig(state.model, pieces[0]?.param_dtype.name ?? "float32", staging);
    options.write_extra?.(staging);
    // Fault injection for the crash-during-save test: a long save, to be killed in the middle of.
    const delay = Number(process.env.TESSERA_CHECKPOINT_COMMIT_DELAY_MS ?? 0);
    if (delay > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, delay);
    // Written last: its presence is what makes the folder a checkpoint.
    writeAtomically(path.join(staging, METADATA_FILE), (fd) => writeFileSync(fd, `${JSON.stringify(meta, null, 1)}\n`));
    commitFolder(staging, dir);
    removeCheckpointLeftovers(path.dirname(path.resolve(dir)));
  }
  // No rank returns before the checkpoint is in place.
  if (world > 1) dist.barrier();
}
