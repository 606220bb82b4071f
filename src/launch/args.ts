// `tessera run`'s flags, torchrun's spelling (dashes or underscores, `--flag value` or `--flag=value`).
import { readJsonObject } from "../parallel/planner/json_file.js";
import { parseJson } from "../torch/serialization/json.js";
import { fixedFromPlanJson, fixedToPlanJson } from "../parallel/planner/plan_json.js";
import { INTERRUPT_GRACE_MS } from "./workers.js";

export interface RunArgs {
  nprocPerNode: string | null;
  nnodes: number | null;
  nodeRank: number | null;
  masterAddr: string | null;
  masterPort: number | null;
  hostfile: string | null;
  /** --plan, validated and normalized: the JSON object text every worker gets as TESSERA_PLAN (absent
   *  without --plan). */
  plan?: string;
  /** Times a failed worker group is started again (torchrun's --max-restarts). */
  maxRestarts: number;
  /** Seconds a collective may wait for the other ranks before it fails (every worker's process-group timeout); null: 5 minutes. */
  collectiveTimeout: number | null;
  /** Seconds a worker may go without a heartbeat outside a collective, or stay stopped, before the launcher kills it and fails the group; null: 120. */
  stallTimeout: number | null;
  /** torchrun's --standalone: one node, rendezvous on this machine at a free port. */
  standalone: boolean;
  /** torchrun's --rdzv-id (the job's id, TORCHELASTIC_RUN_ID), or null. */
  runId: string | null;
  script: string;
  scriptArgs: string[];
}

export const USAGE = `usage: tessera run [--nproc-per-node N|gpu|cpu|auto] [--nnodes N --node-rank R]
                   [--master-addr A] [--master-port P] [--hostfile FILE] [--plan JSON|FILE]
                   [--max-restarts N] [--collective-timeout SECONDS] [--stall-timeout SECONDS]
                   [--standalone] [--rdzv-backend c10d] [--rdzv-endpoint HOST[:PORT]] [--rdzv-id ID]
                   script.ts [args...]

Runs a TypeScript training script, one worker per GPU (or N), with the environment torchrun sets
(RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, GROUP_RANK, ...).
Worker output is prefixed by rank; if a worker fails, the others are stopped and its error shown.
Inside a Slurm allocation the node count, node rank and master address come from SLURM_*.
--hostfile FILE (lines 'host slots=N') starts one launcher per host over ssh.
--plan '{"tp":2,"zero":1}' or FILE (such an object, or \`tessera plan --json\` output: its best plan)
holds parallelization choices (keys dp, tp, pp, vpp, micro_batch, grad_accum, zero, recompute,
recompute_layers, sequence_parallel, offload, hybrid_shard); it is checked before any worker starts
and every worker gets it as TESSERA_PLAN.
--max-restarts N: when a worker dies, the others are stopped and the whole group is started again,
up to N times (default 0), as torchrun does; each restart is logged with its cause (rank, exit code
or signal). The script resumes from its latest checkpoint (docs/checkpoints.md). One node only.
--collective-timeout SECONDS: a collective that waits longer for the other ranks fails (default 5
minutes), so that a hung rank (stopped, deadlocked) brings the group down and it can restart.
--stall-timeout SECONDS: a worker whose heartbeat stops outside a collective (a busy loop, a call that
never returns) or that stays stopped (SIGSTOP, a debugger) this long is killed, which fails the group
at once (default 120; the heartbeat ticks at every collective, optimizer step, and every second while
the event loop is free, from init_process_group on). A rank started with another WORLD_SIZE is named
at rendezvous.
TESSERA_JOB_TOKEN (environment): the job's secret, which seals its rendezvous store; made afresh on one
node, required (the same on every node, at least 32 characters) for --nnodes > 1; --hostfile makes one.
SIGINT/SIGTERM are forwarded to the workers, which get ${INTERRUPT_GRACE_MS / 1000} s to stop (and save) before they
are killed; a second signal kills them at once.
torchrun's --standalone (one node, a free local port) and --rdzv-backend c10d|static,
--rdzv-endpoint HOST[:PORT] (the master's address) and --rdzv-id ID (TORCHELASTIC_RUN_ID) are accepted
with torchrun's meaning; every flag may be spelled with dashes or underscores.
Without any flag and without GPUs the script runs as one plain process.`;

const FLAGS = [
  "nproc-per-node",
  "nnodes",
  "node-rank",
  "master-addr",
  "master-port",
  "hostfile",
  "plan",
  "max-restarts",
  "collective-timeout",
  "stall-timeout",
  "rdzv-backend",
  "rdzv-endpoint",
  "rdzv-id",
] as const;
/** Flags without a value. */
const SWITCHES = ["standalone"] as const;
type Flag = (typeof FLAGS)[number];

function intFlag(name: string, v: string | undefined, min: number): number | null {
  if (v === undefined) return null;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got '${v}'`);
  return n;
}

/** JSON.parse and file errors can span lines (V8 quotes the source); the launcher prints one line. */
const oneLine = (message: string): string => message.replace(/\s+/g, " ");

/**
 * --plan's value: inline JSON when it starts with '{', else a file. Either holds plan choices or the
 * whole `tessera plan --json` output, whose `plan` is its best plan. Returns the normalized text.
 */
export function parsePlanArg(value: string): string {
  const inline = value.trimStart().startsWith("{");
  const where = inline ? "--plan" : `--plan ${value}`;
  let json: unknown;
  try {
    json = inline ? parseJson(value) : readJsonObject(value, "plan file");
  } catch (e) {
    throw new Error(oneLine(`${inline ? "--plan: not valid JSON: " : "--plan: "}${(e as Error).message}`));
  }
  if (typeof json === "object" && json !== null && !Array.isArray(json) && ("plan" in json || "fits" in json)) {
    if (!("plan" in json)) throw new Error(`${where}: this \`tessera plan --json\` output has no plan (nothing fits)`);
    json = json.plan;
  }
  return JSON.stringify(fixedToPlanJson(fixedFromPlanJson(json, where)));
}

export function parseRunArgs(argv: string[]): RunArgs {
  const values: Partial<Record<Flag, string>> = {};
  let standalone = false;
  let i = 0;
  for (; i < argv.length && argv[i].startsWith("--"); i++) {
    const [rawName, inline] = argv[i].slice(2).split(/=(.*)/s, 2);
    const name = rawName.replace(/_/g, "-") as Flag;
    if ((SWITCHES as readonly string[]).includes(name) && inline === undefined) {
      standalone = true;
      continue;
    }
    if (!FLAGS.includes(name)) throw new Error(`unknown option '${argv[i]}'`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`option '--${name}' needs a value`);
    values[name] = value;
  }
  if (i >= argv.length) throw new Error("no script given");
  // torchrun's rendezvous: the c10d (or static) TCP store at --rdzv-endpoint host[:port] is the master's.
  const backend = values["rdzv-backend"];
  if (backend !== undefined && backend !== "c10d" && backend !== "static")
    throw new Error(`--rdzv-backend ${backend}: tessera rendezvous through a TCP store (use c10d or static)`);
  const endpoint = values["rdzv-endpoint"];
  if (endpoint !== undefined) {
    const m = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(endpoint);
    if (m === null || m[1] === "") throw new Error(`--rdzv-endpoint must be host[:port], got '${endpoint}'`);
    if (values["master-addr"] !== undefined || values["master-port"] !== undefined)
      throw new Error("give --rdzv-endpoint or --master-addr/--master-port, not both");
    values["master-addr"] = m[1];
    // Port 0 (or none): any free port, as torchrun's standalone rendezvous.
    if (m[2] !== undefined && Number(m[2]) !== 0) values["master-port"] = m[2];
    else standalone = standalone || m[1] === "localhost" || m[1].startsWith("127.");
  }
  if (standalone && values.nnodes !== undefined && values.nnodes !== "1" && values.nnodes !== "1:1")
    throw new Error(`--standalone runs one node, but --nnodes is ${values.nnodes}`);
  if (values.nnodes === "1:1") values.nnodes = "1";
  const port = intFlag("master-port", values["master-port"], 1);
  if (port !== null && port > 65535) throw new Error(`--master-port must be at most 65535, got ${port}`);
  return {
    nprocPerNode: values["nproc-per-node"] ?? null,
    nnodes: intFlag("nnodes", values.nnodes, 1),
    nodeRank: intFlag("node-rank", values["node-rank"], 0),
    masterAddr: values["master-addr"] ?? null,
    masterPort: port,
    hostfile: values.hostfile ?? null,
    maxRestarts: intFlag("max-restarts", values["max-restarts"], 0) ?? 0,
    collectiveTimeout: intFlag("collective-timeout", values["collective-timeout"], 1),
    stallTimeout: intFlag("stall-timeout", values["stall-timeout"], 1),
    standalone,
    runId: values["rdzv-id"] ?? null,
    script: argv[i],
    scriptArgs: argv.slice(i + 1),
    ...(values.plan === undefined ? {} : { plan: parsePlanArg(values.plan) }),
  };
}
