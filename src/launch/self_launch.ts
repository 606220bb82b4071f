// The "single virtual device": a script started as one plain process becomes rank 0 of a job of N
// ranks (N = CUDA devices, or TESSERA_NPROC / the nprocs option on CPU) at the one line, and starts
// ranks 1..N-1 as copies of the script under a supervisor (self_supervisor.ts), so that the code
// before the one line runs once per rank. The supervisor prints the other ranks' lines prefixed
// `[rankN]: ` (rank 0's stay bare), stops them when this process ends, and stops this process when
// one of them fails, naming it. Synchronous, so the one line needs no `await`.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as dist from "../torch/distributed/index.js";
import { device_count, is_available } from "../torch/cuda.js";
import { childNodeArgs } from "./node_flags.js";
import { jobStore } from "../torch/distributed/job_store.js";
import { JOB_TOKEN_ENV, newJobToken } from "../torch/distributed/job_token.js";

export interface EnsureWorkersOptions {
  /** Ranks wanted; default: the CUDA device count, else TESSERA_NPROC, else 1. */
  nprocs?: number;
  /** "gloo" or "nccl"; default nccl on CUDA, gloo on CPU. */
  backend?: dist.Backend;
}

export interface WorkerInfo {
  rank: number;
  world_size: number;
  backend: dist.Backend;
}

function wantedRanks(options: EnsureWorkersOptions): number {
  const n = options.nprocs ?? (is_available() && device_count() > 0 ? device_count() : Number(process.env.TESSERA_NPROC || 1));
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`ensureWorkers: the number of ranks must be a positive integer, got '${options.nprocs ?? process.env.TESSERA_NPROC}'`);
  return n;
}

const supervisor = fileURLToPath(new URL("./self_supervisor.ts", import.meta.url));

/** Starts ranks 1..n-1 under a supervisor that rendezvous at this process's store; returns at once. */
function startOtherRanks(n: number, port: number): void {
  const args = ["--import", import.meta.resolve("tsx"), supervisor, String(n), String(port), ...childNodeArgs(), ...process.argv.slice(1)];
  // stdin stays a pipe from this process: when it ends, however it ends, the supervisor sees the
  // pipe close and stops the other ranks instead of leaving them waiting in a collective.
  const child = spawn(process.execPath, args, { stdio: ["pipe", "inherit", "inherit"] });
  child.on("exit", (code, signal) => {
    const status = code ?? (signal === null ? 1 : 128 + 15);
    if (status !== 0 && (process.exitCode === undefined || process.exitCode === 0)) process.exitCode = status;
  });
}

/**
 * In a launched worker (RANK and WORLD_SIZE set): joins the process group and returns this rank.
 * In a plain process wanting one rank: makes a one-rank group. In a plain process wanting N > 1
 * ranks: becomes rank 0 of N, the other ranks started as copies of this script.
 */
export function ensureWorkers(options: EnsureWorkersOptions = {}): WorkerInfo {
  const backend = options.backend ?? (is_available() && dist.is_nccl_available() ? "nccl" : "gloo");
  if (!dist.is_initialized()) {
    if (process.env.RANK !== undefined && process.env.WORLD_SIZE !== undefined) {
      dist.init_process_group({ backend });
    } else {
      const n = wantedRanks(options);
      const store = new dist.TCPStore("127.0.0.1", 0, { is_master: true, world_size: n, wait_for_workers: false });
      // The other ranks inherit the token with the environment (never on a command line).
      process.env[JOB_TOKEN_ENV] ||= newJobToken();
      if (n > 1) {
        startOtherRanks(n, store.port);
        Object.assign(process.env, {
          RANK: "0",
          LOCAL_RANK: "0",
          WORLD_SIZE: String(n),
          LOCAL_WORLD_SIZE: String(n),
          MASTER_ADDR: "127.0.0.1",
          MASTER_PORT: String(store.port),
        });
      }
      dist.init_process_group({ backend, store: jobStore(store), rank: 0, world_size: n });
    }
  }
  return { rank: dist.get_rank(), world_size: dist.get_world_size(), backend: dist.get_backend() };
}
