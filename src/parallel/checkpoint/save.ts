// save_checkpoint: every rank of a job writes what it alone holds (its chunks of the model and of
// the optimizer state, its RNG states) into its own safetensors file, in parallel, inside a hidden
// staging folder. A piece held by several ranks — data-parallel replicas, the ranks of a TP group
// for a parameter it does not slice — is written by the lowest of them; a pipeline stage's pieces
// only by its ranks. Each file's header lists the pieces its rank holds; when all have written (a
// barrier), rank 0 merges those lists into the metadata, writes it and renames the folder into
// place. A crash at any point before the rename leaves only the staging folder, which nothing takes
// for a checkpoint.
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
import { safe_open, save_file } from "../../torch/serialization/index.js";
import { parseJson } from "../../torch/serialization/json.js";
import { writeAtomically } from "../../torch/serialization/atomic.js";
import type { Tensor } from "../../torch/tensor.js";
import type { DataLoaderStateDict } from "../../torch/utils/data/dataloader.js";
import { FORMAT, METADATA_FILE, pack, rankFile, type CheckpointMetadata, type JsonValue, type PieceMetadata } from "./format.js";
import { commitFolder, freshStagingFolder, removeCheckpointLeftovers, stagingFolder } from "./folders.js";
import { modelPieces, persistentBuffers, rankPlacement, type Piece, type RankPlacement } from "./layout.js";

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

/** Where each rank of the job sits: its ZeRO shard rank (-1 without sharding), pipeline stage and TP rank. */
type Coordinates = Array<{ shard: number; stage: number; tp: number }>;

/** Every rank's coordinates (one collective over the job). */
function jobCoordinates(pieces: Piece[], place: RankPlacement, world: number): Coordinates {
  const mine = [pieces.find((p) => p.shard_size > 1)?.shard_rank ?? -1, place.stage, place.tp_rank];
  let all = mine;
  if (world > 1) {
    const out = tensor(Array(3 * world).fill(0), { dtype: int64 });
    dist.all_gather_into_tensor(out, tensor(mine, { dtype: int64 }));
    all = out.tolist() as number[];
  }
  return Array.from({ length: world }, (_, r) => ({ shard: all[3 * r], stage: all[3 * r + 1], tp: all[3 * r + 2] }));
}

/**
 * writers[k] for chunk k of `piece`: the lowest rank holding it — of the piece's pipeline stage, of
 * its TP rank when the piece holds slices, with shard rank k when it is sharded.
 */
function writersOf(piece: Piece, coords: Coordinates): number[] {
  return Array.from({ length: piece.shard_size }, (_, k) => {
    const r = coords.findIndex(
      (c) => c.stage === piece.stage && (piece.tp_rank === null || c.tp === piece.tp_rank) && (piece.shard_size === 1 || c.shard === k),
    );
    if (r < 0) throw new Error(`save_checkpoint: no rank holds chunk ${k} of ${piece.name}`);
    return r;
  });
}

/** The header keys of a rank file listing the pieces its rank holds and the buffers it wrote. */
const PIECES_KEY = "tessera_pieces";
const BUFFERS_KEY = "tessera_buffers";

/** Every rank's pieces (each once, in rank order) and written buffers, from the headers of the rank files in `dir`. */
function collectLayout(dir: string, world: number): { pieces: PieceMetadata[]; buffers: CheckpointMetadata["buffers"] } {
  const pieces = new Map<string, PieceMetadata>();
  const buffers: CheckpointMetadata["buffers"] = [];
  for (let r = 0; r < world; r++) {
    const f = safe_open(path.join(dir, rankFile(r)));
    try {
      const header = f.metadata() ?? {};
      for (const p of parseJson(header[PIECES_KEY] ?? "[]") as PieceMetadata[]) if (!pieces.has(p.name)) pieces.set(p.name, p);
      for (const name of parseJson(header[BUFFERS_KEY] ?? "[]") as string[]) buffers.push({ name, rank: r });
    } finally {
      f.close();
    }
  }
  return { pieces: [...pieces.values()], buffers };
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
  const { rank, world } = rankAndWorld();
  const pieces = modelPieces(state.model);
  const coords = jobCoordinates(pieces, rankPlacement(state.model), world);
  const staging = stagingFolder(dir);
  if (rank === 0) freshStagingFolder(dir);
  if (world > 1) dist.barrier();

  const tensors: Record<string, Tensor> = {};
  const metaPieces: PieceMetadata[] = [];
  const optimState = state.optimizer?.state;
  for (const piece of pieces) {
    const writers = writersOf(piece, coords);
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
          if (rank === writers[0]) tensors[`optim_state/${key}/${piece.name}`] = v.detach().to({ device: "cpu" }).contiguous();
        } else {
          optimizer.values[key] = pack(v, key, tensors);
        }
      }
    }
    metaPieces.push({
      name: piece.name,
      numel: piece.numel,
      chunk: piece.chunk,
      shard_size: piece.shard_size,
      dtype: saved.dtype.name,
      param_dtype: piece.param_dtype.name,
      writers,
      optimizer,
      entries: piece.entries.map(({ names, shape, offset, slice }) => ({ names, shape, offset, ...(slice === null ? {} : { slice }) })),
    });
  }
  tensors["rng/cpu"] = get_rng_state();
  if (cuda.is_available()) cuda.get_rng_state_all().forEach((s, i) => (tensors[`rng/cuda:${i}`] = s.to({ device: "cpu" })));

  // A pipeline stage's layers (and their buffers) are on its ranks only: the lowest of them writes the buffers.
  const buffers =
    coords.findIndex((c) => c.stage === coords[rank].stage) === rank ? persistentBuffers(state.model) : new Map<string, Tensor>();
  for (const [name, b] of buffers) tensors[`buffer/${name}`] = b.detach().to({ device: "cpu" }).contiguous();
  let meta: Omit<CheckpointMetadata, "pieces" | "buffers"> | null = null;
  if (rank === 0) {
    const groups = state.optimizer?.state_dict().param_groups.map(({ params: _ids, ...hyper }) => pack(hyper, "param_groups", tensors));
    meta = {
      format: FORMAT,
      version: 2,
      world_size: world,
      plan: pack(applied_plan(), "plan", tensors),
      files: Array.from({ length: world }, (_, r) => rankFile(r)),
      optimizer: groups === undefined ? null : { param_groups: groups },
      lr_scheduler: pack(state.lr_scheduler?.state_dict() ?? null, "state/lr_scheduler", tensors),
      dataloader: pack(state.dataloader?.state_dict() ?? null, "state/dataloader", tensors),
      trainer_state: pack(options.trainer_state ?? null, "state/trainer_state", tensors),
    };
  }
  save_file(tensors, path.join(staging, rankFile(rank)), {
    format: "pt",
    rank: String(rank),
    world_size: String(world),
    [PIECES_KEY]: JSON.stringify(metaPieces),
    [BUFFERS_KEY]: JSON.stringify([...buffers.keys()]),
  });
  if (world > 1) dist.barrier();

  if (rank === 0) {
    writeConfig(state.model, pieces[0]?.param_dtype.name ?? "float32", staging);
    options.write_extra?.(staging);
    // Fault injection for the crash-during-save test: a long save, to be killed in the middle of.
    const delay = Number(process.env.TESSERA_CHECKPOINT_COMMIT_DELAY_MS ?? 0);
    if (delay > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, delay);
    // Written last: its presence is what makes the folder a checkpoint.
    const full: CheckpointMetadata = { ...meta!, ...collectLayout(staging, world) };
    writeAtomically(path.join(staging, METADATA_FILE), (fd) => writeFileSync(fd, `${JSON.stringify(full, null, 1)}\n`));
    commitFolder(staging, dir);
    removeCheckpointLeftovers(path.dirname(path.resolve(dir)));
  }
  // No rank returns before the checkpoint is in place.
  if (world > 1) dist.barrier();
}
