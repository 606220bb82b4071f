// `tessera run`'s flags, torchrun's spelling (dashes or underscores, `--flag value` or `--flag=value`).
export interface RunArgs {
  nprocPerNode: string | null;
  nnodes: number | null;
  nodeRank: number | null;
  masterAddr: string | null;
  masterPort: number | null;
  hostfile: string | null;
  script: string;
  scriptArgs: string[];
}

export const USAGE = `usage: tessera run [--nproc-per-node N|gpu|cpu|auto] [--nnodes N --node-rank R]
                   [--master-addr A] [--master-port P] [--hostfile FILE] script.ts [args...]

Runs a TypeScript training script, one worker per GPU (or N), with the environment torchrun sets
(RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, GROUP_RANK, ...).
Worker output is prefixed by rank; if a worker fails, the others are stopped and its error shown.
Inside a Slurm allocation the node count, node rank and master address come from SLURM_*.
--hostfile FILE (lines 'host slots=N') starts one launcher per host over ssh.
Without any flag and without GPUs the script runs as one plain process.`;

const FLAGS = ["nproc-per-node", "nnodes", "node-rank", "master-addr", "master-port", "hostfile"] as const;
type Flag = (typeof FLAGS)[number];

function intFlag(name: string, v: string | undefined, min: number): number | null {
  if (v === undefined) return null;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got '${v}'`);
  return n;
}

export function parseRunArgs(argv: string[]): RunArgs {
  const values: Partial<Record<Flag, string>> = {};
  let i = 0;
  for (; i < argv.length && argv[i].startsWith("--"); i++) {
    const [rawName, inline] = argv[i].slice(2).split(/=(.*)/s, 2);
    const name = rawName.replace(/_/g, "-") as Flag;
    if (!FLAGS.includes(name)) throw new Error(`unknown option '${argv[i]}'`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`option '--${name}' needs a value`);
    values[name] = value;
  }
  if (i >= argv.length) throw new Error("no script given");
  const port = intFlag("master-port", values["master-port"], 1);
  if (port !== null && port > 65535) throw new Error(`--master-port must be at most 65535, got ${port}`);
  return {
    nprocPerNode: values["nproc-per-node"] ?? null,
    nnodes: intFlag("nnodes", values.nnodes, 1),
    nodeRank: intFlag("node-rank", values["node-rank"], 0),
    masterAddr: values["master-addr"] ?? null,
    masterPort: port,
    hostfile: values.hostfile ?? null,
    script: argv[i],
    scriptArgs: argv.slice(i + 1),
  };
}
