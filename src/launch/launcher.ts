// Turns `tessera run`'s arguments into a job: a plain single process, this node's workers, or one
// launcher per hostfile host over ssh.
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { RunArgs } from "./args.js";
import { parseHostfile, slurmNode } from "./cluster.js";
import { youngGenerationFlags } from "./node_flags.js";
import { INTERRUPT_GRACE_MS, runWorkers, supervise, type NodeSpec } from "./workers.js";
import { freePort } from "./free_port.js";
import { checkJobToken, JOB_TOKEN_ENV, newJobToken } from "../torch/distributed/job_token.js";

export const DEFAULT_MASTER_PORT = 29500;
const tesseraBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "tessera.mjs");

/**
 * `node <young-generation flag> --import tsx --import tessera_resolve.mjs script args`: how every worker
 * runs a script (the second import lets a script in any folder import "tessera").
 */
export function scriptCommand(script: string, args: string[]): string[] {
  return [
    process.execPath,
    ...youngGenerationFlags(),
    "--import",
    import.meta.resolve("tsx"),
    "--import",
    import.meta.resolve("./tessera_resolve.mjs"),
    script,
    ...args,
  ];
}

const stallMs = (a: RunArgs): number | undefined => (a.stallTimeout === null ? undefined : a.stallTimeout * 1000);

async function cudaDeviceCount(): Promise<number> {
  const { device_count, is_available } = await import("../torch/cuda.js");
  return is_available() ? device_count() : 0;
}

/** --nproc-per-node: a number, gpu/auto (one per GPU, else 1), cpu (one per core); default gpu. */
export async function resolveNproc(value: string | null): Promise<number> {
  if (value === null || value === "gpu" || value === "auto") return Math.max(1, await cudaDeviceCount());
  if (value === "cpu") return os.cpus().length;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--nproc-per-node must be a positive integer, gpu, cpu or auto; got '${value}'`);
  return n;
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The job's token (its store's seal, torch/distributed/job_store.ts): TESSERA_JOB_TOKEN when set, else a fresh one
 * when this launcher starts every rank itself. Separately started node launchers cannot agree on
 * a fresh one, so a multi-node job without TESSERA_JOB_TOKEN is refused.
 */
export function jobToken(multiNode: boolean): string {
  const given = process.env[JOB_TOKEN_ENV];
  if (given !== undefined && given !== "") return checkJobToken(given, JOB_TOKEN_ENV);
  if (multiNode)
    throw new Error(
      `a job on several nodes needs a shared secret: set ${JOB_TOKEN_ENV} to the same value on every node (e.g. export ${JOB_TOKEN_ENV}=$(openssl rand -hex 32)), or use --hostfile, which makes one`,
    );
  return newJobToken();
}

function hostfileJob(a: RunArgs, file: string, script: string): Promise<number> {
  const hosts = parseHostfile(file);
  const slots = hosts[0].slots;
  if (hosts.some((h) => h.slots !== slots)) throw new Error(`${file}: every host needs the same slots (a world has equal nodes)`);
  const masterAddr = a.masterAddr ?? hosts[0].host;
  const masterPort = a.masterPort ?? DEFAULT_MASTER_PORT;
  const token = jobToken(false);
  const specs = hosts.map((h, i) => {
    const remote = [
      process.execPath,
      tesseraBin,
      "run",
      "--nnodes",
      String(hosts.length),
      "--node-rank",
      String(i),
      "--nproc-per-node",
      String(slots),
      "--master-addr",
      masterAddr,
      "--master-port",
      String(masterPort),
      ...(a.plan === undefined ? [] : ["--plan", a.plan]),
      ...(a.collectiveTimeout === null ? [] : ["--collective-timeout", String(a.collectiveTimeout)]),
      ...(a.stallTimeout === null ? [] : ["--stall-timeout", String(a.stallTimeout)]),
      script,
      ...a.scriptArgs,
    ];
    // The token travels on ssh's standard input, never on a command line (which `ps` shows).
    const readToken = `IFS= read -r ${JOB_TOKEN_ENV} && export ${JOB_TOKEN_ENV}`;
    return {
      name: `node ${i} (${h.host})`,
      command: ["ssh", h.host, `${readToken} && cd ${quote(process.cwd())} && ${remote.map(quote).join(" ")}`],
      env: process.env,
      prefix: "",
      group: true,
      stdin: `${token}\n`,
    };
  });
  return supervise(specs);
}

export async function launch(a: RunArgs): Promise<number> {
  const script = path.resolve(a.script);
  if (!existsSync(script)) throw new Error(`script not found: ${a.script}`);
  // Restarting needs every node's group to stop and start together, which one node's launcher cannot arrange.
  if (a.maxRestarts > 0 && (a.hostfile !== null || (a.nnodes ?? slurmNode()?.nnodes ?? 1) > 1)) {
    throw new Error("--max-restarts works on one node only (for now)");
  }
  if (a.hostfile !== null) return hostfileJob(a, a.hostfile, script);
  const slurm = a.nnodes === null && a.nodeRank === null ? slurmNode() : null;
  const nproc = await resolveNproc(a.nprocPerNode);
  const nnodes = a.nnodes ?? slurm?.nnodes ?? 1;
  const nodeRank = a.nodeRank ?? slurm?.nodeRank ?? 0;
  if (nodeRank >= nnodes) throw new Error(`--node-rank ${nodeRank} must be below --nnodes ${nnodes}`);
  const command = scriptCommand(script, a.scriptArgs);
  // The plan reaches the script (and every worker) as TESSERA_PLAN, the runtime's executors' input;
  // the collective timeout as TESSERA_COLLECTIVE_TIMEOUT, init_process_group's default; the job's
  // token as TESSERA_JOB_TOKEN, which seals its rendezvous store.
  const planEnv = {
    [JOB_TOKEN_ENV]: jobToken(nnodes > 1),
    ...(a.plan === undefined ? {} : { TESSERA_PLAN: a.plan }),
    ...(a.runId === null ? {} : { TORCHELASTIC_RUN_ID: a.runId }),
    ...(a.collectiveTimeout === null ? {} : { TESSERA_COLLECTIVE_TIMEOUT: String(a.collectiveTimeout) }),
  };
  const plain = nproc * nnodes === 1 && a.nprocPerNode === null && a.masterAddr === null && a.masterPort === null && !a.standalone;
  if (plain) {
    const spec = { name: "the script", command, env: { ...process.env, ...planEnv }, prefix: "" };
    // The script's own error output says why it failed; the launcher names a killing signal and restarts.
    return supervise([spec], undefined, {
      maxRestarts: a.maxRestarts,
      interruptGraceMs: INTERRUPT_GRACE_MS,
      single: true,
      stallTimeoutMs: stallMs(a),
    });
  }
  const spec: NodeSpec = {
    command,
    nprocPerNode: nproc,
    nnodes,
    nodeRank,
    masterAddr: a.masterAddr ?? slurm?.masterAddr ?? "127.0.0.1",
    masterPort: a.masterPort ?? (a.standalone ? await freePort() : DEFAULT_MASTER_PORT),
    env: planEnv,
    maxRestarts: a.maxRestarts,
    stallTimeoutMs: stallMs(a),
  };
  return runWorkers(spec, undefined, INTERRUPT_GRACE_MS);
}
