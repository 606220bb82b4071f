// The collectives and point-to-point ops, with PyTorch's names and semantics. Ranks in arguments
// are global ranks. A sync call returns when the op finished; `async_op: true` returns a Work.
import { RuntimeError, ValueError } from "../errors.js";
import type { NativeHandle } from "../_native.js";
import type { Tensor } from "../tensor.js";
import { native as c10d } from "../_native.js";
import { _resolve, type Group, type ProcessGroup } from "./process_group.js";
import { Work } from "./work.js";
import { checkOptions, type OptionNames } from "../_options.js";

export const ReduceOp = {
  SUM: "SUM",
  AVG: "AVG",
  PRODUCT: "PRODUCT",
  MIN: "MIN",
  MAX: "MAX",
  BAND: "BAND",
  BOR: "BOR",
  BXOR: "BXOR",
} as const;
export type ReduceOp = (typeof ReduceOp)[keyof typeof ReduceOp];

export interface CollectiveOptions {
  group?: Group | null;
  async_op?: boolean;
}
export interface ReduceOptions extends CollectiveOptions {
  op?: ReduceOp;
}
type Async<O> = O & { async_op: true };

const COLLECTIVE: OptionNames<CollectiveOptions> = { group: true, async_op: true };
const REDUCE: OptionNames<ReduceOptions> = { ...COLLECTIVE, op: true };

/** A reduction's options: Python's `op=` keyword or positional op, then the collective's options. */
function checkReduce(what: string, op: ReduceOp | ReduceOptions | undefined, options: CollectiveOptions): void {
  if (typeof op === "object") checkOptions(what, op, REDUCE);
  checkOptions(what, options, COLLECTIVE);
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Sees every op launched: its name, the bytes of its whole message (the gathered or the reduced tensor) and its group. */
export type _CollectiveObserver = (op: string, bytes: number, group: ProcessGroup) => void;
const observers = new Set<_CollectiveObserver>();

/** @internal Counts traffic (tests, benchmarks); returns the function that stops observing. */
export function _observe_collectives(observer: _CollectiveObserver): () => void {
  observers.add(observer);
  return () => void observers.delete(observer);
}

const bytesOf = (t: Tensor): number => t.numel() * t.element_size();

/** Starts the op on the group, then waits (sync) or hands back the Work (async_op). */
function launch(
  what: string,
  options: CollectiveOptions,
  bytes: (pg: ProcessGroup) => number,
  start: (pg: ProcessGroup) => NativeHandle,
  after?: (pg: ProcessGroup) => void,
): Work | undefined {
  const pg = _resolve(options.group, what);
  if (pg === null) return options.async_op === true ? new Work(null, what) : undefined;
  if (observers.size > 0) {
    const n = bytes(pg);
    for (const o of observers) o(what, n, pg);
  }
  let h: NativeHandle;
  try {
    h = start(pg);
  } catch (e) {
    throw new RuntimeError(`torch.distributed.${what}: ${message(e)}`);
  }
  const work = new Work(h, what, after === undefined ? undefined : () => after(pg));
  if (options.async_op === true) return work;
  work.wait();
  return undefined;
}

// Gloo has no AVG: PyTorch's gloo users get SUM then a divide; so do ours (integers round toward zero).
function reduction(pg: ProcessGroup, op: ReduceOp): { native: ReduceOp; average: boolean } {
  if (op === ReduceOp.AVG && pg.backend === "gloo") return { native: ReduceOp.SUM, average: true };
  return { native: op, average: false };
}

function divideBySize(t: Tensor, pg: ProcessGroup): void {
  if (t.is_floating_point() || t.is_complex()) t.div_(pg.size());
  else t.div_(pg.size(), { rounding_mode: "trunc" });
}

function opOf(arg: ReduceOp | ReduceOptions | undefined): ReduceOptions {
  return typeof arg === "string" ? { op: arg } : (arg ?? {});
}

export function all_reduce(tensor: Tensor, options: Async<ReduceOptions>): Work;
export function all_reduce(tensor: Tensor, op?: ReduceOp | ReduceOptions, options?: CollectiveOptions): void;
export function all_reduce(tensor: Tensor, op?: ReduceOp | ReduceOptions, options: CollectiveOptions = {}): Work | undefined {
  checkReduce("all_reduce", op, options);
  const o = { ...options, ...opOf(op) };
  let average = false;
  return launch(
    "all_reduce",
    o,
    () => bytesOf(tensor),
    (pg) => {
      const r = reduction(pg, o.op ?? ReduceOp.SUM);
      average = r.average;
      return c10d.distAllreduce(pg.handle, tensor, r.native);
    },
    (pg) => average && divideBySize(tensor, pg),
  );
}

export interface BroadcastOptions extends CollectiveOptions {
  src?: number;
}

export function broadcast(tensor: Tensor, src: number, options: Async<CollectiveOptions>): Work;
export function broadcast(tensor: Tensor, src: number, options?: CollectiveOptions): void;
export function broadcast(tensor: Tensor, src: number, options: CollectiveOptions = {}): Work | undefined {
  checkOptions("broadcast", options, COLLECTIVE);
  return launch(
    "broadcast",
    options,
    () => bytesOf(tensor),
    (pg) => c10d.distBroadcast(pg.handle, tensor, pg.group_rank(src, "src")),
  );
}

export function all_gather(tensor_list: Tensor[], tensor: Tensor, options: Async<CollectiveOptions>): Work;
export function all_gather(tensor_list: Tensor[], tensor: Tensor, options?: CollectiveOptions): void;
export function all_gather(tensor_list: Tensor[], tensor: Tensor, options: CollectiveOptions = {}): Work | undefined {
  checkOptions("all_gather", options, COLLECTIVE);
  return launch(
    "all_gather",
    options,
    (pg) => bytesOf(tensor) * pg.size(),
    (pg) => {
      if (tensor_list.length !== pg.size())
        throw new ValueError(`tensor_list has ${tensor_list.length} tensors, but the group has ${pg.size()} ranks`);
      return c10d.distAllgather(pg.handle, tensor_list, tensor);
    },
  );
}

function checkNumel(what: string, big: Tensor, small: Tensor, pg: ProcessGroup, bigName: string, smallName: string): void {
  if (big.numel() !== small.numel() * pg.size())
    throw new ValueError(
      `${bigName} must have world_size (${pg.size()}) times the elements of ${smallName}: got ${big.numel()} and ${small.numel()} (${what})`,
    );
}

export function all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor, options: Async<CollectiveOptions>): Work;
export function all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor, options?: CollectiveOptions): void;
export function all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor, options: CollectiveOptions = {}): Work | undefined {
  checkOptions("all_gather_into_tensor", options, COLLECTIVE);
  return launch(
    "all_gather_into_tensor",
    options,
    () => bytesOf(output_tensor),
    (pg) => {
      checkNumel("all_gather_into_tensor", output_tensor, input_tensor, pg, "output_tensor", "input_tensor");
      return c10d.distAllgatherBase(pg.handle, output_tensor, input_tensor);
    },
  );
}

export function reduce_scatter_tensor(
  output: Tensor,
  input: Tensor,
  op: ReduceOp | Async<ReduceOptions>,
  options?: Async<CollectiveOptions>,
): Work;
export function reduce_scatter_tensor(output: Tensor, input: Tensor, op?: ReduceOp | ReduceOptions, options?: CollectiveOptions): void;
export function reduce_scatter_tensor(
  output: Tensor,
  input: Tensor,
  op?: ReduceOp | ReduceOptions,
  options: CollectiveOptions = {},
): Work | undefined {
  checkReduce("reduce_scatter_tensor", op, options);
  const o = { ...options, ...opOf(op) };
  let average = false;
  return launch(
    "reduce_scatter_tensor",
    o,
    () => bytesOf(input),
    (pg) => {
      checkNumel("reduce_scatter_tensor", input, output, pg, "input", "output");
      const r = reduction(pg, o.op ?? ReduceOp.SUM);
      average = r.average;
      return c10d.distReduceScatterBase(pg.handle, output, input, r.native);
    },
    (pg) => average && divideBySize(output, pg),
  );
}

export interface AllToAllOptions extends CollectiveOptions {
  output_split_sizes?: number[] | null;
  input_split_sizes?: number[] | null;
}

function checkSplits(name: string, splits: number[], t: Tensor, pg: ProcessGroup): void {
  if (splits.length === 0) return;
  if (splits.length !== pg.size()) throw new ValueError(`${name} has ${splits.length} entries, but the group has ${pg.size()} ranks`);
  const rows = t.dim() === 0 ? 1 : t.shape[0];
  const sum = splits.reduce((a, b) => a + b, 0);
  if (sum !== rows) throw new ValueError(`${name} [${splits.join(", ")}] sums to ${sum}, but the tensor has ${rows} rows`);
}

/** Splits `input` along dim 0 (evenly, or by input_split_sizes) and scatters the pieces; gathers into `output`. */
export function all_to_all_single(output: Tensor, input: Tensor, options: Async<AllToAllOptions>): Work;
export function all_to_all_single(output: Tensor, input: Tensor, options?: AllToAllOptions): void;
export function all_to_all_single(output: Tensor, input: Tensor, options: AllToAllOptions = {}): Work | undefined {
  checkOptions("all_to_all_single", options, { ...COLLECTIVE, output_split_sizes: true, input_split_sizes: true });
  return launch(
    "all_to_all_single",
    options,
    () => bytesOf(input),
    (pg) => {
      const outSplits = options.output_split_sizes ?? [];
      const inSplits = options.input_split_sizes ?? [];
      checkSplits("output_split_sizes", outSplits, output, pg);
      checkSplits("input_split_sizes", inSplits, input, pg);
      return c10d.distAlltoallBase(pg.handle, output, input, outSplits, inSplits);
    },
  );
}

export function barrier(options: Async<CollectiveOptions>): Work;
export function barrier(options?: CollectiveOptions): void;
export function barrier(options: CollectiveOptions = {}): Work | undefined {
  checkOptions("barrier", options, COLLECTIVE);
  return launch(
    "barrier",
    options,
    () => 0,
    (pg) => c10d.distBarrier(pg.handle),
  );
}

export interface P2POptions {
  group?: Group | null;
  tag?: number;
}

const P2P: OptionNames<P2POptions> = { group: true, tag: true };

export function isend(tensor: Tensor, dst: number, options: P2POptions = {}): Work {
  checkOptions("isend", options, P2P);
  return launch(
    "isend",
    { group: options.group, async_op: true },
    () => bytesOf(tensor),
    (pg) => c10d.distSend(pg.handle, tensor, pg.group_rank(dst, "dst"), options.tag ?? 0),
  ) as Work;
}

export function irecv(tensor: Tensor, src: number, options: P2POptions = {}): Work {
  checkOptions("irecv", options, P2P);
  return launch(
    "irecv",
    { group: options.group, async_op: true },
    () => bytesOf(tensor),
    (pg) => c10d.distRecv(pg.handle, tensor, pg.group_rank(src, "src"), options.tag ?? 0),
  ) as Work;
}

export function send(tensor: Tensor, dst: number, options: P2POptions = {}): void {
  checkOptions("send", options, P2P);
  isend(tensor, dst, options).wait();
}

/** Receives into `tensor` from global rank `src`; returns `src`. */
export function recv(tensor: Tensor, src: number, options: P2POptions = {}): number {
  checkOptions("recv", options, P2P);
  irecv(tensor, src, options).wait();
  return src;
}

/** One point-to-point op for batch_isend_irecv: `new P2POp(dist.isend, tensor, peer)`. */
export class P2POp {
  constructor(
    readonly op: typeof isend | typeof irecv,
    readonly tensor: Tensor,
    readonly peer: number,
    readonly group: Group | null = null,
    readonly tag = 0,
  ) {
    if (op !== isend && op !== irecv) throw new TypeError("P2POp: op must be torch.distributed.isend or torch.distributed.irecv");
  }
}

/** Starts every op; returns their Works. NCCL coalesces them into one launch, as PyTorch does. */
export function batch_isend_irecv(p2p_op_list: P2POp[]): Work[] {
  if (p2p_op_list.length === 0) return [];
  const pg = _resolve(p2p_op_list[0].group, "batch_isend_irecv");
  const coalesce = pg !== null && pg.backend === "nccl";
  if (coalesce) c10d.distStartCoalescing(pg.handle);
  const works = p2p_op_list.map((p) => p.op(p.tensor, p.peer, { group: p.group, tag: p.tag }));
  return coalesce ? [new Work(c10d.distEndCoalescing(pg.handle), "batch_isend_irecv")] : works;
}
