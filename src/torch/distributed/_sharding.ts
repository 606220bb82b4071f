// Which parameters are one rank's shard of a larger tensor (FSDP-style sharding without DTensor),
// so that code computing a whole-tensor quantity, like clip_grad_norm_'s total norm, can reduce the
// shards' partial results over the right group. Marks live in a WeakMap keyed by the parameter
// object: they die with it and cost nothing to the rest.
import type { Tensor } from "../tensor.js";
import type { Group } from "./process_group.js";

const shardGroups = new WeakMap<Tensor, Group | null>();
let anyMarked = false;

/** Marks `param` as this rank's shard of a tensor sharded over `group` (null: the default group). */
export function _mark_sharded(param: Tensor, group: Group | null): void {
  shardGroups.set(param, group);
  anyMarked = true;
}

/** The group `param` is sharded over (null: the default group), or undefined when it is not sharded. */
export function _shard_group(param: Tensor): Group | null | undefined {
  return shardGroups.get(param);
}

/** Whether anything was ever marked: lets callers skip the per-tensor lookups in the common case. */
export function _any_sharded(): boolean {
  return anyMarked;
}

// How many parameters a shard stands for (a flat unit's chunk: the whole unit's), so that counting
// a model's parameters through the shards it hands out counts the model.
const logicalNumel = new WeakMap<Tensor, number>();

/** Records that `param`, one rank's chunk, stands for `numel` parameters of the model. */
export function _set_logical_numel(param: Tensor, numel: number): void {
  logicalNumel.set(param, numel);
}

/** The parameters `param` stands for: its recorded count, else its own numel. Count each rank's chunks of one unit once. */
export function _logical_numel(param: Tensor): number {
  return logicalNumel.get(param) ?? param.numel();
}
