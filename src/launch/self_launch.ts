// The "single virtual device": a script started as one plain process re-runs itself as N ranks
// (N = CUDA devices, or TESSERA_NPROC / the nprocs option on CPU) under the launcher machinery.
// The first process only waits: a supervisor child (self_supervisor.ts) runs the workers and prints
// one merged log — rank 0's lines bare, other ranks' prefixed `[rankN]: ` — and the first process
// exits with the job's code without running the training code. Synchronous, so the one line needs
// no `await`.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as dist from "../torch/distributed/index.js";
import { device_count, is_available } from "../torch/cuda.js";
import { childNodeArgs } from "./node_flags.js";

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
  if (!Number.isInteger(n) || n < 1) throw new Error(`ensureWorkers: the number of ranks must be a positive integer, got '${options.nprocs ?? process.env.TESSERA_NPROC}'`);
  return n;
}

const supervisor = fileURLToPath(new URL("./self_supervisor.ts", import.meta.url));

/**
 * In a launched worker (RANK and WORLD_SIZE set): joins the process group and returns this rank.
 * In a plain process wanting one rank: makes a one-rank group. In a plain process wanting N > 1
 * ranks: runs this script as N workers and exits with their code (it never returns).
 */
export function ensureWorkers(options: EnsureWorkersOptions = {}): WorkerInfo {
  const backend = options.backend ?? (is_available() && dist.is_nccl_available() ? "nccl" : "gloo");
  if (!dist.is_initialized()) {
    if (process.env.RANK !== undefined && process.env.WORLD_SIZE !== undefined) {
      dist.init_process_group({ backend });
    } else {
      const n = wantedRanks(options);
      if (n > 1) {
        const args = ["--import", import.meta.resolve("tsx"), supervisor, String(n), ...childNodeArgs(), ...process.argv.slice(1)];
        const r = spawnSync(process.execPath, args, { stdio: "inherit" });
        process.exit(r.status ?? 1);
      }
      const store = new dist.TCPStore("127.0.0.1", 0, { is_master: true, world_size: 1 });
      dist.init_process_group({ backend, store, rank: 0, world_size: 1 });
    }
  }
  return { rank: dist.get_rank(), world_size: dist.get_world_size(), backend: dist.get_backend() };
}
