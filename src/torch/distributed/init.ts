// init_process_group: rendezvous through env://, tcp://host:port or file:///path (or a given
// store), then the default process group over it.
import { ValueError } from "../errors.js";
import { native } from "../_native.js";
import { _init_world, is_initialized, type Backend, type ProcessGroup } from "./process_group.js";
import { FileStore, TCPStore, type Store } from "./store.js";
import { jobStore } from "./job_store.js";
import { startHeartbeat } from "./heartbeat.js";
import { checkOptions } from "../_options.js";

export interface InitProcessGroupOptions {
  /** "gloo" or "nccl"; default: nccl when CUDA and NCCL are available, else gloo. */
  backend?: Backend;
  /** "env://" (default), "tcp://host:port" or "file:///path". */
  init_method?: string;
  world_size?: number;
  rank?: number;
  /**
   * Milliseconds (PyTorch takes a timedelta) a collective or the rendezvous may wait for the other
   * ranks; default: TESSERA_COLLECTIVE_TIMEOUT seconds (`tessera run --collective-timeout`), else 5 minutes.
   */
  timeout?: number;
  /** A store to rendezvous on instead of init_method (then rank and world_size are required). */
  store?: Store;
}

export function is_available(): boolean {
  return native.distAvailableBackends().length > 0;
}

export function is_gloo_available(): boolean {
  return native.distAvailableBackends().includes("gloo");
}

export function is_nccl_available(): boolean {
  return native.distAvailableBackends().includes("nccl");
}

function envInt(name: string, given: number | undefined): number {
  if (given !== undefined) return given;
  const v = process.env[name];
  if (v === undefined || v === "")
    throw new ValueError(
      `Error initializing torch.distributed using env:// rendezvous: environment variable ${name} expected, but not set`,
    );
  const n = Number(v);
  if (!Number.isInteger(n))
    throw new ValueError(`Error initializing torch.distributed using env:// rendezvous: ${name}='${v}' is not an integer`);
  return n;
}

function checkRank(rank: number, worldSize: number): void {
  if (!Number.isInteger(worldSize) || worldSize < 1)
    throw new ValueError(`torch.distributed.init_process_group: world_size must be a positive integer, got ${worldSize}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize)
    throw new ValueError(`torch.distributed.init_process_group: rank ${rank} is out of range for world_size ${worldSize}`);
}

const isLoopback = (host: string): boolean => host === "localhost" || host.startsWith("127.") || host === "::1";

/** The address Gloo binds to: loopback for single-machine jobs, else what the hostname resolves to. */
function glooHost(masterAddr: string | null, worldSize: number): string {
  if (masterAddr !== null) return isLoopback(masterAddr) ? "127.0.0.1" : "";
  const local = Number(process.env.LOCAL_WORLD_SIZE ?? worldSize);
  return local >= worldSize ? "127.0.0.1" : "";
}

interface Rendezvous {
  store: Store;
  rank: number;
  worldSize: number;
  masterAddr: string | null;
}

function tcpRendezvous(host: string, port: number, rank: number, worldSize: number, timeout: number): Rendezvous {
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new ValueError(`torch.distributed.init_process_group: invalid master port '${port}'`);
  // Rank 0 does not wait for worker_count connections here: agreeOnWorldSize waits for the ranks,
  // and names one started with another world size instead of waiting for ranks that never come.
  const tcp = new TCPStore(host, port, { world_size: worldSize, is_master: rank === 0, timeout, wait_for_workers: false });
  return { store: jobStore(tcp), rank, worldSize, masterAddr: host };
}

function rendezvous(o: InitProcessGroupOptions, timeout: number): Rendezvous {
  if (o.store !== undefined) {
    if (o.rank === undefined || o.world_size === undefined)
      throw new ValueError("torch.distributed.init_process_group: rank and world_size are required with store");
    return { store: o.store, rank: o.rank, worldSize: o.world_size, masterAddr: null };
  }
  const method = o.init_method ?? "env://";
  if (method === "env://") {
    const rank = envInt("RANK", o.rank);
    const worldSize = envInt("WORLD_SIZE", o.world_size);
    checkRank(rank, worldSize);
    const addr = process.env.MASTER_ADDR;
    if (addr === undefined || addr === "")
      throw new ValueError(
        "Error initializing torch.distributed using env:// rendezvous: environment variable MASTER_ADDR expected, but not set",
      );
    return tcpRendezvous(addr, envInt("MASTER_PORT", undefined), rank, worldSize, timeout);
  }
  const rank = o.rank ?? Number(process.env.RANK);
  const worldSize = o.world_size ?? Number(process.env.WORLD_SIZE);
  checkRank(rank, worldSize);
  const tcp = /^tcp:\/\/\[?([^\]]+?)\]?:(\d+)$/.exec(method);
  if (tcp !== null) return tcpRendezvous(tcp[1], Number(tcp[2]), rank, worldSize, timeout);
  if (method.startsWith("file://")) {
    const file = method.slice("file://".length);
    if (file === "") throw new Error(`torch.distributed.init_process_group: init_method '${method}' names no file`);
    return { store: new FileStore(file, worldSize, timeout), rank, worldSize, masterAddr: null };
  }
  throw new ValueError(
    `torch.distributed.init_process_group: unsupported init_method '${method}' (use env://, tcp://host:port or file:///path)`,
  );
}

/**
 * The default collective timeout: a few minutes, not PyTorch's 30, so that a hung rank brings a job
 * down (and a restart up) soon; `tessera run --collective-timeout` changes it for longer waits.
 */
export const DEFAULT_COLLECTIVE_TIMEOUT_MS = 5 * 60_000;

/** A world size read from the store: a decimal integer of at most 9 digits, else an error naming the key. */
function storedWorldSize(key: string, value: string): number {
  if (!/^[1-9][0-9]{0,8}$/.test(value)) {
    const shown = value.length > 40 ? `${JSON.stringify(value.slice(0, 40))}... (${value.length} characters)` : JSON.stringify(value);
    throw new Error(`store key '${key}': expected a world size (a positive integer), got ${shown}`);
  }
  return Number(value);
}

/** Every rank states the world size it was started with; one that differs from rank 0's is an error naming both. */
function agreeOnWorldSize(store: Store, rank: number, worldSize: number, timeout: number): void {
  const key = (r: number): string => `tessera/world_size/${r}`;
  store.set(key(rank), String(worldSize));
  const others = rank === 0 ? Array.from({ length: worldSize - 1 }, (_, i) => i + 1) : [0];
  for (const r of others) {
    store.wait([key(r)], timeout);
    const theirs = storedWorldSize(key(r), store.get(key(r)));
    if (theirs !== worldSize) {
      throw new Error(
        `rank ${rank} was started with world_size ${worldSize}, but rank ${r} with ${theirs} (WORLD_SIZE must be the same on every rank)`,
      );
    }
  }
}

/** The launcher's --collective-timeout (seconds, in the environment), or DEFAULT_COLLECTIVE_TIMEOUT_MS. */
function defaultTimeout(): number {
  const v = process.env.TESSERA_COLLECTIVE_TIMEOUT;
  if (v === undefined || v === "") return DEFAULT_COLLECTIVE_TIMEOUT_MS;
  const seconds = Number(v);
  if (!(seconds > 0)) throw new Error(`TESSERA_COLLECTIVE_TIMEOUT='${v}': expected a positive number of seconds`);
  return seconds * 1000;
}

function defaultBackend(): Backend {
  return native.cudaIsAvailable() && is_nccl_available() ? "nccl" : "gloo";
}

/** Joins this process to the job; every rank calls it. Returns the default (WORLD) group. */
export function init_process_group(options: InitProcessGroupOptions = {}): ProcessGroup {
  checkOptions("init_process_group", options, {
    backend: true,
    init_method: true,
    world_size: true,
    rank: true,
    timeout: true,
    store: true,
  });
  if (is_initialized()) throw new ValueError("torch.distributed.init_process_group: trying to initialize the default process group twice");
  const backend = options.backend ?? defaultBackend();
  if (backend !== "gloo" && backend !== "nccl")
    throw new ValueError(`torch.distributed.init_process_group: unknown backend '${String(backend)}' (use gloo or nccl)`);
  if (!native.distAvailableBackends().includes(backend))
    throw new Error(`torch.distributed.init_process_group: backend '${backend}' is not available in this build`);
  const timeout = options.timeout ?? defaultTimeout();
  const rv = rendezvous(options, timeout);
  try {
    agreeOnWorldSize(rv.store, rv.rank, rv.worldSize, timeout);
    const pg = _init_world(backend, rv.store, rv.rank, rv.worldSize, timeout, glooHost(rv.masterAddr, rv.worldSize));
    startHeartbeat();
    return pg;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(
      `torch.distributed.init_process_group: rank ${rv.rank} of ${rv.worldSize} could not connect the ${backend} process group: ${msg}`,
    );
  }
}
