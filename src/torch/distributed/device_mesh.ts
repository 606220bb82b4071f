// torch.distributed.device_mesh: the ranks of a job laid out as an n-dimensional grid, row-major, so
// the last (innermost) dimension holds neighbouring ranks — put tensor parallelism there and its
// groups stay inside a node. Every dimension gets its process groups when the mesh is made (every
// rank makes every group, in the same order, as new_group requires); a dimension spanning the whole
// job reuses the default group. Python's `mesh["tp"]` and `mesh["dp", "tp"]` are `mesh.get("tp")`
// and `mesh.get(["dp", "tp"])`, as `md["k"]` is `md.get("k")` for ModuleDict.
import { IndexError, RuntimeError, ValueError } from "../errors.js";
import { tensor } from "../creation.js";
import { int64 } from "../dtype.js";
import type { Tensor } from "../tensor.js";
import { init_process_group } from "./init.js";
import { checkOptions } from "../_options.js";
import { GroupMember, get_rank, get_world_size, is_initialized, new_group, type ProcessGroup } from "./process_group.js";

export interface DeviceMeshOptions {
  mesh_dim_names?: string[] | null;
}

/** Row-major strides of `shape`. */
function stridesOf(shape: readonly number[]): number[] {
  const strides = shape.map(() => 1);
  for (let d = shape.length - 2; d >= 0; d--) strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

/** Every combination of indices over `sizes`, the last varying fastest. */
function* indexTuples(sizes: readonly number[]): Generator<number[]> {
  const idx = sizes.map(() => 0);
  if (sizes.some((s) => s === 0)) return;
  for (;;) {
    yield [...idx];
    let d = sizes.length - 1;
    while (d >= 0 && ++idx[d] === sizes[d]) idx[d--] = 0;
    if (d < 0) return;
  }
}

function nestedShape(value: unknown): number[] {
  return Array.isArray(value) ? [value.length, ...nestedShape(value[0])] : [];
}

// One grid of ranks and the groups along its dimensions (and flattened runs of them), shared by a
// mesh and every submesh cut from it.
class Grid {
  readonly strides: number[];
  /** Groups by the sorted dimensions they run along, then by the coordinates they fix. */
  private readonly groups = new Map<string, ProcessGroup>();

  constructor(
    readonly shape: number[],
    readonly ranks: number[],
    readonly names: string[] | null,
  ) {
    this.strides = stridesOf(shape);
  }

  coordinate(rank: number): number[] | null {
    const at = this.ranks.indexOf(rank);
    return at < 0 ? null : this.strides.map((s, d) => Math.floor(at / s) % this.shape[d]);
  }

  /** The ranks that share `coord` outside `dims`, in row-major order over `dims`. */
  ranksAlong(dims: readonly number[], coord: readonly number[]): number[] {
    const base = coord.reduce((acc, c, d) => (dims.includes(d) ? acc : acc + c * this.strides[d]), 0);
    return [...indexTuples(dims.map((d) => this.shape[d]))].map(
      (idx) => this.ranks[base + idx.reduce((acc, i, k) => acc + i * this.strides[dims[k]], 0)],
    );
  }

  /** Makes the groups along `dims` (every rank calls this with the same dims) and returns this rank's. */
  groupAlong(dims: readonly number[], me: readonly number[]): ProcessGroup {
    const key = (coord: readonly number[]): string => `${dims.join(",")}|${coord.map((c, d) => (dims.includes(d) ? "*" : c)).join(",")}`;
    const mine = this.groups.get(key(me));
    if (mine !== undefined) return mine;
    const world = get_world_size();
    const others = this.shape.map((s, d) => (dims.includes(d) ? 1 : s));
    for (const coord of indexTuples(others)) {
      const ranks = this.ranksAlong(dims, coord);
      // The whole job in rank order is the default group; anything else is a new group.
      const g = ranks.length === world && ranks.every((r, i) => r === i) ? GroupMember.WORLD : new_group(ranks);
      if (g !== null && typeof g === "object") this.groups.set(key(coord), g);
    }
    const g = this.groups.get(key(me));
    if (g === undefined) throw new Error("DeviceMesh: this rank is not in the mesh");
    return g;
  }
}

/** `flat` (row-major) as nested arrays of `shape`. */
function nest(flat: number[], shape: readonly number[]): unknown[] {
  return shape
    .slice(1)
    .reverse()
    .reduce<unknown[]>((acc, s) => Array.from({ length: acc.length / s }, (_, i) => acc.slice(i * s, (i + 1) * s)), flat);
}

export class DeviceMesh {
  readonly device_type: string;
  /** The global ranks in the mesh's shape (int64). */
  readonly mesh: Tensor;
  readonly mesh_dim_names: string[] | null;
  private readonly grid: Grid;
  /** The grid dimensions each mesh dimension runs along (several for a flattened one). */
  private readonly dims: number[][];
  /** This rank's coordinate in the whole grid. */
  private readonly coord: number[];

  /** A mesh over `mesh` (nested arrays of global ranks, or an integer tensor); every rank of the job constructs it. */
  constructor(device_type: string, mesh: unknown[] | Tensor, opts: DeviceMeshOptions = {}) {
    checkOptions("DeviceMesh.__init__", opts, { mesh_dim_names: true });
    const { mesh_dim_names = null } = opts;
    const plain = Array.isArray(mesh) ? mesh : (mesh.tolist() as unknown[]);
    const shape = nestedShape(plain);
    const ranks = plain.flat(Infinity) as number[];
    if (!is_initialized()) init_process_group({ backend: device_type === "cuda" ? "nccl" : "gloo" });
    const world = get_world_size();
    if (ranks.length > world)
      throw new RuntimeError(`Mesh should not be bigger than default world size ${world}, but found ${ranks.length} ranks!`);
    if (ranks.length === 0 || ranks.some((r) => !Number.isInteger(r) || r < 0 || r >= world) || new Set(ranks).size !== ranks.length) {
      throw new Error(`DeviceMesh: the mesh must hold distinct ranks of the job (0 to ${world - 1}), got ${JSON.stringify(plain)}`);
    }
    if (mesh_dim_names !== null) {
      if (mesh_dim_names.length !== shape.length) {
        throw new RuntimeError(
          `mesh_dim_names should have same length as mesh_shape, but found ${mesh_dim_names.length} and ${shape.length}.`,
        );
      }
      if (new Set(mesh_dim_names).size !== mesh_dim_names.length)
        throw new RuntimeError(
          `Each mesh_dim_name must be unique. Found repeated mesh_dim_name in mesh_dim_names ${JSON.stringify(mesh_dim_names)}`,
        );
    }
    const grid = new Grid(shape, ranks, mesh_dim_names === null ? null : [...mesh_dim_names]);
    const coord = grid.coordinate(get_rank());
    if (coord === null) throw new Error(`DeviceMesh: rank ${get_rank()} is not in the mesh ${JSON.stringify(plain)}`);
    // Every dimension's groups, as PyTorch makes them with the mesh; those of one rank only when asked for.
    for (let d = 0; d < shape.length; d++) if (shape[d] > 1) grid.groupAlong([d], coord);
    this.device_type = device_type;
    this.grid = grid;
    this.dims = shape.map((_, d) => [d]);
    this.coord = coord;
    this.mesh = tensor(plain as number[], { dtype: int64 });
    this.mesh_dim_names = grid.names;
  }

  /** A mesh of this rank over some runs of `parent`'s grid dimensions (no new groups). */
  private static over(parent: DeviceMesh, dims: number[][], names: string[] | null): DeviceMesh {
    const m = Object.create(DeviceMesh.prototype) as DeviceMesh;
    const ranks = parent.grid.ranksAlong(dims.flat(), parent.coord);
    const shape = dims.map((run) => run.reduce((a, d) => a * parent.grid.shape[d], 1));
    Object.assign(m, {
      device_type: parent.device_type,
      grid: parent.grid,
      dims,
      coord: parent.coord,
      mesh: tensor(nest(ranks, shape) as number[], { dtype: int64 }),
      mesh_dim_names: names,
    });
    return m;
  }

  get ndim(): number {
    return this.dims.length;
  }

  get shape(): number[] {
    return this.dims.map((run) => run.reduce((a, d) => a * this.grid.shape[d], 1));
  }

  private dimIndex(mesh_dim: number | string | null | undefined, what: string): number {
    if (mesh_dim === null || mesh_dim === undefined) {
      if (this.ndim > 1)
        throw new RuntimeError(
          `Found the DeviceMesh have ${this.ndim} dimensions. Optional kwarg \`mesh_dim\` needs to be specified when device_mesh.ndim > 1. (${what})`,
        );
      return 0;
    }
    if (typeof mesh_dim === "string") {
      const i = this.mesh_dim_names?.indexOf(mesh_dim) ?? -1;
      if (i < 0)
        throw new RuntimeError(
          `Mesh dimension '${mesh_dim}' does not exist. Available mesh dimensions are: mesh_dim_names=${JSON.stringify(this.mesh_dim_names)}`,
        );
      return i;
    }
    if (!Number.isInteger(mesh_dim) || mesh_dim < -this.ndim || mesh_dim >= this.ndim)
      throw new IndexError(`${what}: mesh_dim ${mesh_dim} is out of range for a ${this.ndim}-d mesh`);
    return mesh_dim < 0 ? mesh_dim + this.ndim : mesh_dim;
  }

  /** Ranks along `mesh_dim`, or in the whole mesh without it. */
  size(mesh_dim?: number | string): number {
    return mesh_dim === undefined ? this.shape.reduce((a, b) => a * b, 1) : this.shape[this.dimIndex(mesh_dim, "size")];
  }

  /** The process group of this rank along `mesh_dim` (required when ndim > 1). */
  get_group(mesh_dim?: number | string | null): ProcessGroup {
    return this.grid.groupAlong(this.dims[this.dimIndex(mesh_dim, "get_group")], this.coord);
  }

  get_all_groups(): ProcessGroup[] {
    return this.dims.map((run) => this.grid.groupAlong(run, this.coord));
  }

  /** This rank's index along `mesh_dim` (required when ndim > 1). */
  get_local_rank(mesh_dim?: number | string | null): number {
    const run = this.dims[this.dimIndex(mesh_dim, "get_local_rank")];
    return run.reduce((acc, d) => acc * this.grid.shape[d] + this.coord[d], 0);
  }

  get_rank(): number {
    return get_rank();
  }

  /** This rank's index along each of the mesh's dimensions. */
  get_coordinate(): number[] {
    return this.dims.map((_, i) => this.get_local_rank(i));
  }

  /** Python's `mesh["tp"]` / `mesh["dp", "tp"]`: this rank's submesh over the named dimensions (in the mesh's order). */
  get(mesh_dim_names: string | string[]): DeviceMesh {
    const names = typeof mesh_dim_names === "string" ? [mesh_dim_names] : mesh_dim_names;
    const idx = names.map((n) => this.dimIndex(n, "get"));
    if (idx.some((d, i) => i > 0 && d <= idx[i - 1])) {
      throw new Error(
        `Invalid mesh_dim_names ${JSON.stringify(names)} specified. Valid mesh_dim_names should be a contiguous subsequence of ${JSON.stringify(this.mesh_dim_names)}.`,
      );
    }
    return DeviceMesh.over(
      this,
      idx.map((i) => this.dims[i]),
      names,
    );
  }

  /**
   * This mesh as one dimension (PyTorch's `_flatten`): its groups run along all of the mesh's
   * dimensions at once. Every rank calls it for the same mesh.
   */
  _flatten(mesh_dim_name?: string): DeviceMesh {
    const run = this.dims.flat();
    this.grid.groupAlong(run, this.coord);
    return DeviceMesh.over(this, [run], [mesh_dim_name ?? (this.mesh_dim_names ?? this.dims.map((_, i) => String(i))).join("_")]);
  }

  toString(): string {
    const names = this.mesh_dim_names === null ? "" : `, mesh_dim_names=(${this.mesh_dim_names.map((n) => `'${n}'`).join(", ")})`;
    return `DeviceMesh('${this.device_type}', ${JSON.stringify(this.mesh.tolist())}${names})`;
  }
}

/**
 * A mesh of `mesh_shape` over every rank of the job, rank r at the row-major position r (the last
 * dimension holds neighbouring ranks). Initialises the default group from the environment if needed.
 */
export function init_device_mesh(device_type: string, mesh_shape: number[], opts: DeviceMeshOptions = {}): DeviceMesh {
  checkOptions("init_device_mesh", opts, { mesh_dim_names: true });
  const { mesh_dim_names = null } = opts;
  if (mesh_shape.some((s) => !Number.isInteger(s) || s < 1))
    throw new ValueError(`init_device_mesh: mesh_shape must hold positive integers, got [${mesh_shape.join(", ")}]`);
  if (!is_initialized()) init_process_group({ backend: device_type === "cuda" ? "nccl" : "gloo" });
  const n = mesh_shape.reduce((a, b) => a * b, 1);
  const world = get_world_size();
  if (n !== world) throw new Error(`init_device_mesh: mesh_shape [${mesh_shape.join(", ")}] holds ${n} ranks, but the job has ${world}`);
  return new DeviceMesh(
    device_type,
    nest(
      Array.from({ length: n }, (_, i) => i),
      mesh_shape,
    ),
    { mesh_dim_names },
  );
}
