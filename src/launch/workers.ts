// Runs a node's workers: one child per local rank with torchrun's environment, output prefixed by
// rank, signals forwarded, and fail-fast — when one worker fails, the rest are stopped and the
// failing rank's error is shown.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";

export interface NodeSpec {
  /** The program and arguments one worker runs (the same for every rank). */
  command: string[];
  nprocPerNode: number;
  nnodes: number;
  nodeRank: number;
  masterAddr: string;
  masterPort: number;
  /** Rank 0's lines are printed bare when false (self-launch's single merged log). */
  prefixRank0?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** The variables torchrun sets for a worker. */
export function workerEnv(spec: NodeSpec, localRank: number): NodeJS.ProcessEnv {
  const rank = spec.nodeRank * spec.nprocPerNode + localRank;
  const world = spec.nnodes * spec.nprocPerNode;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...spec.env,
    RANK: String(rank),
    LOCAL_RANK: String(localRank),
    WORLD_SIZE: String(world),
    LOCAL_WORLD_SIZE: String(spec.nprocPerNode),
    GROUP_RANK: String(spec.nodeRank),
    GROUP_WORLD_SIZE: String(spec.nnodes),
    ROLE_RANK: String(rank),
    ROLE_WORLD_SIZE: String(world),
    ROLE_NAME: "default",
    MASTER_ADDR: spec.masterAddr,
    MASTER_PORT: String(spec.masterPort),
    TORCHELASTIC_RESTART_COUNT: "0",
    TORCHELASTIC_MAX_RESTARTS: "0",
    TORCHELASTIC_RUN_ID: "none",
  };
  // torchrun's default: one thread per worker when several share a machine, unless the user chose.
  if (spec.nprocPerNode > 1 && process.env.OMP_NUM_THREADS === undefined) env.OMP_NUM_THREADS = "1";
  return env;
}

const KILL_GRACE_MS = 3000;
const TAIL_LINES = 30;

/** One supervised child: its command, environment and the prefix for its output lines. */
export interface ProcSpec {
  name: string;
  command: string[];
  env: NodeJS.ProcessEnv;
  prefix: string;
  /** Own process group, stopped as a whole (for ssh sessions and their local stand-ins). */
  group?: boolean;
}

interface Running {
  spec: ProcSpec;
  child: ChildProcess;
  tail: string[];
  exit: Promise<number>;
}

function exitCode(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal === "SIGINT" ? 2 : signal === "SIGKILL" ? 9 : 15);
}

function start(spec: ProcSpec): Running {
  const child = spawn(spec.command[0], spec.command.slice(1), { env: spec.env, stdio: ["inherit", "pipe", "pipe"], detached: spec.group === true });
  const tail: string[] = [];
  const pipe = (stream: NodeJS.ReadableStream, out: NodeJS.WriteStream, keep: boolean): Promise<void> =>
    new Promise((done) => {
      const lines = createInterface({ input: stream, crlfDelay: Infinity });
      lines.on("line", (line) => {
        out.write(`${spec.prefix}${line}\n`);
        if (keep) {
          tail.push(line);
          if (tail.length > TAIL_LINES) tail.shift();
        }
      });
      lines.on("close", done);
    });
  const streams = Promise.all([pipe(child.stdout!, process.stdout, false), pipe(child.stderr!, process.stderr, true)]);
  const exit = new Promise<number>((resolve) => {
    child.on("error", (e) => {
      tail.push(`could not start: ${e.message}`);
      resolve(127);
    });
    child.on("exit", (code, signal) => void streams.then(() => resolve(exitCode(code, signal))));
  });
  return { spec, child, tail, exit };
}

function kill(r: Running, signal: NodeJS.Signals): void {
  if (r.child.exitCode !== null || r.child.signalCode !== null || r.child.pid === undefined) return;
  try {
    if (r.spec.group === true) process.kill(-r.child.pid, signal);
    else r.child.kill(signal);
  } catch {
    // already gone
  }
}

function stopAll(running: Running[], signal: NodeJS.Signals): void {
  for (const r of running) kill(r, signal);
  setTimeout(() => running.forEach((r) => kill(r, "SIGKILL")), KILL_GRACE_MS).unref();
}

export type Log = (line: string) => void;
const stderrLog: Log = (l) => process.stderr.write(`${l}\n`);

/**
 * Runs the children to the end, forwarding SIGINT/SIGTERM; when one fails the others are stopped
 * and its last error lines are shown. Resolves to the job's exit code (the first failure's).
 */
export async function supervise(specs: ProcSpec[], log: Log = stderrLog): Promise<number> {
  const running = specs.map(start);
  let interrupted: NodeJS.Signals | null = null;
  const handlers = (["SIGINT", "SIGTERM"] as const).map((sig) => {
    const h = (): void => {
      interrupted = sig;
      stopAll(running, sig);
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  let failed: Running | null = null;
  let failedCode = 0;
  try {
    await Promise.all(
      running.map(async (r) => {
        const code = await r.exit;
        if (code !== 0 && failed === null && interrupted === null) {
          failed = r;
          failedCode = code;
          stopAll(running, "SIGTERM");
        }
      }),
    );
  } finally {
    for (const [sig, h] of handlers) process.off(sig, h);
  }
  if (interrupted !== null) return interrupted === "SIGINT" ? 130 : 143;
  const f = failed as Running | null;
  if (f === null) return 0;
  log(`tessera run: ${f.spec.name} failed with exit code ${failedCode}; stopped the others. Its last error output:`);
  for (const line of f.tail) log(`  ${f.spec.prefix}${line}`);
  return failedCode;
}

/** Runs this node's workers (one per local rank) to the end. */
export function runWorkers(spec: NodeSpec, log: Log = stderrLog): Promise<number> {
  const specs = Array.from({ length: spec.nprocPerNode }, (_, local): ProcSpec => {
    const rank = spec.nodeRank * spec.nprocPerNode + local;
    return {
      name: `rank ${rank}`,
      command: spec.command,
      env: workerEnv(spec, local),
      prefix: rank === 0 && spec.prefixRank0 === false ? "" : `[rank${rank}]: `,
    };
  });
  return supervise(specs, log);
}
