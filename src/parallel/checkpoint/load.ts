// load_checkpoint: reads a checkpoint back into a model and its training state, whatever plan or
// world size saved it. Each parameter is found by name in the saved pieces and read from the
// chunks that hold it (its TP slices put together when it was saved sliced); each rank then keeps
// its own part under the current layout (its TP slice, its ZeRO chunk, its pipeline stage's
// parameters, or the whole tensor of a plain model), for the weights and the optimizer state alike.
import * as cuda from "../../torch/cuda.js";
import * as dist from "../../torch/distributed/index.js";
import { no_grad } from "../../torch/autograd/grad_mode.js";
import { set_rng_state } from "../../torch/generator.js";
import type { OptimizerStateDict, ParamState, StateValue } from "../../torch/optim/optimizer.js";
import type { SchedulerState } from "../../torch/optim/lr_scheduler.js";
import type { DataLoaderStateDict } from "../../torch/utils/data/dataloader.js";
import { appliedModelOf } from "../apply.js";
import { CheckpointReader, fullShapeOf, unpack, type JsonValue, type Located } from "./format.js";
import { modelPieces, persistentBuffers, type Piece } from "./layout.js";
import type { CheckpointState } from "./save.js";

/** Where each of the piece's parameters is saved (by entry). */
function locate(reader: CheckpointReader, piece: Piece): Located[][] {
  return piece.entries.map((e) => {
    const where = reader.find(e.names);
    if (where === null) throw new Error(`load_checkpoint: ${reader.dir} has no ${e.names[0]}`);
    const saved = fullShapeOf(where[0].piece.entries[where[0].entry]);
    const shape = e.slice?.full ?? e.shape;
    if (saved.length !== shape.length || saved.some((s, i) => s !== shape[i])) {
      throw new Error(
        `load_checkpoint: ${e.names[0]} has shape [${saved.join(", ")}] in ${reader.dir}, the model's is [${shape.join(", ")}]`,
      );
    }
    return where;
  });
}

/** The optimizer state of one piece under the current layout: chunked keys re-cut, the rest as saved with the piece's first parameter. */
function pieceState(reader: CheckpointReader, piece: Piece, where: Located[][]): ParamState | null {
  const saved = where[0][0].piece;
  const home = saved.optimizer;
  if (home === null) return null;
  const s: ParamState = {};
  for (const key of home.chunked)
    s[key] = piece.partOf(
      where.map((at) => reader.full(at, `optim/${key}`)),
      piece.param,
    );
  // Copies: several pieces of this layout can come from one saved piece, and the optimizer updates
  // each piece's state (its step count) in place; the reader hands out views of the mapped file.
  for (const key of home.tensors) s[key] = reader.tensor(saved.writers[0], `optim_state/${key}/${saved.name}`).clone();
  for (const [key, v] of Object.entries(home.values)) s[key] = unpack(v, (k) => reader.tensor(saved.writers[0], k).clone()) as StateValue;
  return s;
}

/**
 * Loads the checkpoint in `dir` into `state` (every rank of the job calls it, under any plan or
 * world size) and returns the trainer_state it was saved with. The RNG states are restored too:
 * each rank's own when the world size is the same, else rank (r mod saved world size)'s.
 */
export function load_checkpoint(dir: string, state: CheckpointState): Record<string, unknown> | null {
  const rank = dist.is_initialized() ? dist.get_rank() : 0;
  const reader = new CheckpointReader(dir);
  try {
    const { meta } = reader;
    const fromRank0 = (v: JsonValue): unknown => unpack(v, (k) => reader.tensor(0, k));
    const pieces = modelPieces(state.model);
    const where = new Map(pieces.map((p) => [p, locate(reader, p)] as const));
    for (const piece of pieces) piece.load(where.get(piece)!.map((at) => reader.full(at, "model")));
    const buffers = persistentBuffers(state.model);
    no_grad(() => {
      for (const { name, rank: writer } of meta.buffers) buffers.get(name)?.copy_(reader.tensor(writer, `buffer/${name}`));
    });
    // The last pipeline stage's copies of weights tied to the first are refreshed before they are next used.
    appliedModelOf(state.model)?.pipeline?.weightsChanged();

    const optimizer = state.optimizer;
    if (optimizer !== null && optimizer !== undefined) {
      if (meta.optimizer === null) throw new Error(`load_checkpoint: ${dir} has no optimizer state`);
      const byParam = new Map(pieces.map((p) => [p.param, p] as const));
      const sd: OptimizerStateDict = { state: {}, param_groups: [] };
      let index = 0;
      for (const [gi, group] of optimizer.param_groups.entries()) {
        const ids: number[] = [];
        for (const p of group.params) {
          const piece = byParam.get(p);
          if (piece === undefined)
            throw new Error("load_checkpoint: the optimizer holds a tensor that is not one of the model's parameters");
          const s = pieceState(reader, piece, where.get(piece)!);
          if (s !== null) sd.state[index] = s;
          ids.push(index++);
        }
        const saved = meta.optimizer.param_groups[gi];
        if (saved === undefined)
          throw new Error(
            `load_checkpoint: ${dir} has ${meta.optimizer.param_groups.length} parameter groups, the optimizer ${optimizer.param_groups.length}`,
          );
        sd.param_groups.push({ ...(fromRank0(saved) as Record<string, unknown>), params: ids });
      }
      optimizer.load_state_dict(sd);
    }
    if (state.lr_scheduler != null && meta.lr_scheduler !== null)
      state.lr_scheduler.load_state_dict(fromRank0(meta.lr_scheduler) as SchedulerState);
    if (state.dataloader != null && meta.dataloader !== null)
      state.dataloader.load_state_dict(fromRank0(meta.dataloader) as DataLoaderStateDict);

    const own = rank % meta.world_size;
    set_rng_state(reader.tensor(own, "rng/cpu"));
    const devices = cuda.is_available() ? cuda.device_count() : 0;
    for (let i = 0; i < devices; i++) if (reader.has(own, `rng/cuda:${i}`)) cuda.set_rng_state(reader.tensor(own, `rng/cuda:${i}`), i);
    return fromRank0(meta.trainer_state) as Record<string, unknown> | null;
  } finally {
    reader.close();
  }
}
