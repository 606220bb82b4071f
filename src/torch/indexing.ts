// Python's tensor[...] as methods: `t.index([...])` reads and `t.index_put_([...], value)` writes.
// Items follow Python: an integer selects, Slice(start, stop, step) or a string like "1:3" / ":" /
// "::2" slices, null is None (a new axis), "..." is Ellipsis, and a Tensor (int64 or bool) or an
// array of integers indexes advanced-style. The same views and ops as PyTorch's own indexing.
import { IndexError, ValueError } from "./errors.js";
import * as aten from "./_generated/functions.js";
import { Tensor } from "./tensor.js";
import { tensor as makeTensor } from "./creation.js";
import { int64 } from "./dtype.js";

export class SliceIndex {
  constructor(
    readonly start: number | null = null,
    readonly stop: number | null = null,
    readonly step: number | null = null,
  ) {
    if (step !== null && step <= 0) throw new ValueError("slice step must be positive");
  }
}

/** Python's `start:stop:step`. */
export function Slice(start: number | null = null, stop: number | null = null, step: number | null = null): SliceIndex {
  return new SliceIndex(start, stop, step);
}

export const Ellipsis = "...";

export type IndexItem = number | SliceIndex | string | null | Tensor | number[] | boolean;

function parseSlice(s: string): SliceIndex {
  const parts = s.split(":");
  if (parts.length < 2 || parts.length > 3)
    throw new TypeError(`invalid index '${s}': expected a slice like "1:3", ":" or "::2", or "..."`);
  const num = (p: string | undefined) => {
    if (p === undefined || p.trim() === "") return null;
    const v = Number(p);
    if (!Number.isInteger(v)) throw new TypeError(`invalid index '${s}': '${p}' is not an integer`);
    return v;
  };
  return new SliceIndex(num(parts[0]), num(parts[1]), num(parts[2]));
}

function consumes(item: IndexItem): number {
  if (item === null || item === Ellipsis || typeof item === "boolean") return 0;
  if (item instanceof Tensor && item.dtype.name === "bool") return item.dim();
  return 1;
}

// Applies basic indexing as views; returns the view (`self` itself when no item changed it) and the
// advanced indices aligned to its dims. Full slices (`:`) are skipped, as Python's indexing does.
function applySlicing(self: Tensor, items: IndexItem[]): { view: Tensor; advanced: (Tensor | null)[] } {
  let view = self;
  const specified = items.reduce((n: number, it) => n + consumes(it), 0);
  const ndim = self.dim();
  if (specified > ndim) throw new IndexError(`too many indices for tensor of dimension ${ndim}`);
  if (items.filter((it) => it === Ellipsis).length > 1) throw new TypeError("an index can only have a single ellipsis ('...')");
  const advanced: (Tensor | null)[] = [];
  let dim = 0;
  const record = (t: Tensor) => {
    while (advanced.length < dim) advanced.push(null);
    advanced[dim] = t;
    dim++;
  };
  for (const item of items) {
    if (typeof item === "number") {
      if (!Number.isInteger(item)) throw new TypeError(`index ${item} is not an integer`);
      view = select(view, dim, item);
    } else if (item === null) {
      view = aten.unsqueeze(view, dim);
      dim++;
    } else if (item === Ellipsis) {
      dim += ndim - specified;
    } else if (typeof item === "string" || item instanceof SliceIndex) {
      const s = typeof item === "string" ? parseSlice(item) : item;
      if (s.start !== null || s.stop !== null || (s.step ?? 1) !== 1) view = aten.slice(view, dim, s.start, s.stop, s.step ?? 1);
      dim++;
    } else if (typeof item === "boolean") {
      view = aten.unsqueeze(view, dim);
      record(makeTensor([item]));
    } else if (item instanceof Tensor) {
      record(item);
    } else if (Array.isArray(item)) {
      record(makeTensor(item, { dtype: int64 }));
    } else {
      throw new TypeError(`invalid index item of type ${typeof item}`);
    }
  }
  return { view, advanced };
}

// libtorch checks the bounds; only when it refuses is the size read, for Python's message.
function select(view: Tensor, dim: number, index: number): Tensor {
  try {
    return aten.select(view, dim, index);
  } catch (e) {
    const size = view.size(dim);
    if (index >= size || index < -size) throw new IndexError(`index ${index} is out of bounds for dimension ${dim} with size ${size}`);
    throw e;
  }
}

// The array is Python's index tuple: `t.index([0, 1])` is `t[0, 1]`, `t.index([[0, 1]])` is `t[[0, 1]]`.
function asItems(indices: IndexItem | IndexItem[]): IndexItem[] {
  return Array.isArray(indices) ? (indices as IndexItem[]) : [indices];
}

declare module "./tensor.js" {
  interface Tensor {
    /** `t[...]`: see indexing.ts for the items. `t.index([0, ":"])` is Python's `t[0, :]`. */
    index(indices: IndexItem | IndexItem[]): Tensor;
    /** `t[...] = value`, in place; returns this tensor. */
    index_put_(indices: IndexItem | IndexItem[], value: Tensor | number | boolean, accumulate?: boolean): Tensor;
  }
}

Object.defineProperty(Tensor.prototype, "index", {
  writable: true,
  configurable: true,
  value(this: Tensor, indices: IndexItem | IndexItem[]): Tensor {
    const { view, advanced } = applySlicing(this, asItems(indices));
    if (advanced.length !== 0) return aten.index(view, advanced);
    // Python's t[...] is a new view even when no item changed the tensor.
    return view === this ? aten.alias(this) : view;
  },
});

Object.defineProperty(Tensor.prototype, "index_put_", {
  writable: true,
  configurable: true,
  value(this: Tensor, indices: IndexItem | IndexItem[], value: Tensor | number | boolean, accumulate = false): Tensor {
    const { view, advanced } = applySlicing(this, asItems(indices));
    if (advanced.length === 0 && !accumulate) {
      if (value instanceof Tensor) aten.copy_(view, value);
      else aten.fill_(view, value);
      return this;
    }
    const v = value instanceof Tensor ? value : aten.scalar_tensor(value, { dtype: this.dtype, device: String(this.device) });
    aten.index_put_(view, advanced, v, accumulate);
    return this;
  },
});
