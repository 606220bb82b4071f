// Process groups: the default (WORLD) group made by init_process_group, and subgroups from
// new_group. As in PyTorch, ranks passed to collectives are global ranks; a group maps them.
import { ValueError } from "../errors.js";
import type { NativeHandle } from "../_native.js";
import { native as c10d } from "../_native.js";
import { PrefixStore, type Store } from "./store.js";
import { checkOptions } from "../_options.js";
import { stopHeartbeat, waitingOnPeers } from "./heartbeat.js";

export type Backend = "gloo" | "nccl";

export class ProcessGroup {
  /** @internal */
  _h: NativeHandle | null;
  readonly backend: Backend;
  /** The global ranks of the members, in group-rank order. */
  readonly ranks: readonly number[];
  private readonly groupRank: number;

  /** @internal */
  constructor(h: NativeHandle, backend: Backend, ranks: readonly number[], groupRank: number) {
    this._h = h;
    this.backend = backend;
    this.ranks = ranks;
    this.groupRank = groupRank;
  }

  rank(): number {
    return this.groupRank;
  }

  size(): number {
    return this.ranks.length;
  }

  /** @internal The native handle; throws once the group was destroyed. */
  get handle(): NativeHandle {
    if (this._h === null) throw new Error("torch.distributed: this process group was destroyed");
    return this._h;
  }

  /** The group rank of global rank `rank`; throws when it is not a member. */
  group_rank(rank: number, what: string): number {
    const i = this.ranks.indexOf(rank);
    if (i < 0) throw new ValueError(`torch.distributed: ${what}=${rank} is not a member of the group (ranks ${this.ranks.join(", ")})`);
    return i;
  }
}

const NON_GROUP_MEMBER: unique symbol = Symbol("NON_GROUP_MEMBER");

/** NON_GROUP_MEMBER is what new_group returns outside the group; collectives on it do nothing, as in PyTorch. */
export const GroupMember: { WORLD: ProcessGroup | null; readonly NON_GROUP_MEMBER: typeof NON_GROUP_MEMBER } = {
  WORLD: null as ProcessGroup | null,
  NON_GROUP_MEMBER,
};

export type Group = ProcessGroup | typeof NON_GROUP_MEMBER;

interface World {
  store: Store;
  rank: number;
  worldSize: number;
  timeout: number;
  glooHost: string;
  groups: ProcessGroup[];
  groupCount: number;
}

let world: World | null = null;

/** @internal Sets up WORLD over `store`; called by init_process_group. */
export function _init_world(
  backend: Backend,
  store: Store,
  rank: number,
  worldSize: number,
  timeout: number,
  glooHost: string,
): ProcessGroup {
  const ranks = Array.from({ length: worldSize }, (_, i) => i);
  const prefixed = new PrefixStore("default_pg/", store);
  const h = waitingOnPeers(() => c10d.distNewGroup(backend, prefixed._h, rank, worldSize, timeout, glooHost));
  const pg = new ProcessGroup(h, backend, ranks, rank);
  world = { store, rank, worldSize, timeout, glooHost, groups: [pg], groupCount: 0 };
  GroupMember.WORLD = pg;
  return pg;
}

export function is_initialized(): boolean {
  return world !== null;
}

function current(what: string): World {
  if (world === null)
    throw new ValueError(`torch.distributed.${what}: the default process group has not been initialized; call init_process_group first`);
  return world;
}

/** @internal The group a collective runs on (WORLD by default), or null on a non-member. */
export function _resolve(group: Group | null | undefined, what: string): ProcessGroup | null {
  if (group === NON_GROUP_MEMBER) return null;
  if (group === undefined || group === null) return current(what).groups[0];
  return group;
}

export interface NewGroupOptions {
  /** Milliseconds; default: the default group's. */
  timeout?: number;
  backend?: Backend;
}

/**
 * A group of the given global ranks (all ranks when omitted). Every rank must call it, in the same
 * order, members or not; non-members get GroupMember.NON_GROUP_MEMBER.
 */
export function new_group(ranks?: number[] | null, options: NewGroupOptions = {}): Group {
  checkOptions("new_group", options, { timeout: true, backend: true });
  const w = current("new_group");
  const members =
    ranks === undefined || ranks === null ? Array.from({ length: w.worldSize }, (_, i) => i) : [...ranks].sort((a, b) => a - b);
  for (const r of members) {
    if (!Number.isInteger(r) || r < 0 || r >= w.worldSize)
      throw new ValueError(`torch.distributed.new_group: rank ${r} is out of range for world size ${w.worldSize}`);
  }
  if (new Set(members).size !== members.length)
    throw new ValueError(`torch.distributed.new_group: duplicate ranks in [${ranks?.join(", ")}]`);
  w.groupCount += 1;
  const me = members.indexOf(w.rank);
  if (me < 0) return NON_GROUP_MEMBER;
  const backend = options.backend ?? w.groups[0].backend;
  const store = new PrefixStore(`group_${w.groupCount}/`, w.store);
  const h = waitingOnPeers(() => c10d.distNewGroup(backend, store._h, me, members.length, options.timeout ?? w.timeout, w.glooHost));
  const pg = new ProcessGroup(h, backend, members, me);
  w.groups.push(pg);
  return pg;
}

export function get_rank(group?: Group | null): number {
  if (group === NON_GROUP_MEMBER) return -1;
  if (group === undefined || group === null) return current("get_rank").rank;
  return group.rank();
}

export function get_world_size(group?: Group | null): number {
  if (group === NON_GROUP_MEMBER) return -1;
  if (group === undefined || group === null) return current("get_world_size").worldSize;
  return group.size();
}

export function get_backend(group?: Group | null): Backend {
  const pg = _resolve(group, "get_backend");
  if (pg === null) throw new Error("torch.distributed.get_backend: this rank is not a member of the group");
  return pg.backend;
}

/** The store init_process_group rendezvoused on. */
export function _get_default_store(): Store {
  return current("_get_default_store").store;
}

/** Destroys `group`, or every group (and the default one) when omitted. */
export function destroy_process_group(group?: Group | null): void {
  if (group === NON_GROUP_MEMBER) return;
  const w = current("destroy_process_group");
  const doomed = group === undefined || group === null ? w.groups : [group];
  for (const pg of doomed) {
    if (pg._h !== null) c10d.distDestroyGroup(pg._h);
    pg._h = null;
  }
  if (group === undefined || group === null || group === w.groups[0]) {
    world = null;
    GroupMember.WORLD = null;
    stopHeartbeat();
  } else {
    w.groups = w.groups.filter((g) => g !== group);
  }
}
