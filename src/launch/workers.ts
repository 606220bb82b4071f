// Runs a node's workers: one child per local rank with torchrun's environment, output prefixed by
// rank, signals forwarded, and fail-fast — when one worker fails, the rest are stopped and the
// failing rank's error is shown. With restarts allowed (--max-restarts), the stopped group is
// started again, as torchrun's elastic agent does, and the restart is logged with its cause.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { constants } from "node:os";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { HEARTBEAT_ENV, type BeatState } from "../torch/distributed/heartbeat_wire.js";

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
  /** How many times a failed group is started again (torchrun's --max-restarts; default 0). */
  maxRestarts?: number;
  /** See SuperviseOptions.stallTimeoutMs. */
  stallTimeoutMs?: number;
}

/** The variables torchrun sets for a worker (`restart`: how many times the group was restarted). */
export function workerEnv(spec: NodeSpec, localRank: number, restart = 0): NodeJS.ProcessEnv {
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
    TORCHELASTIC_RESTART_COUNT: String(restart),
    TORCHELASTIC_MAX_RESTARTS: String(spec.maxRestarts ?? 0),
    TORCHELASTIC_RUN_ID: spec.env?.TORCHELASTIC_RUN_ID ?? "none",
  };
  // torchrun's default: one thread per worker when several share a machine, unless the user chose.
  if (spec.nprocPerNode > 1 && process.env.OMP_NUM_THREADS === undefined) env.OMP_NUM_THREADS = "1";
  return env;
}

const KILL_GRACE_MS = 3000;
/** What `tessera run` gives workers after a forwarded SIGINT/SIGTERM to finish a step and save a checkpoint before they are killed. */
export const INTERRUPT_GRACE_MS = 30_000;
const TAIL_LINES = 30;

/** One supervised child: its command, environment and the prefix for its output lines. */
export interface ProcSpec {
  name: string;
  command: string[];
  env: NodeJS.ProcessEnv;
  prefix: string;
  /** Own process group, stopped as a whole (for ssh sessions and their local stand-ins). */
  group?: boolean;
  /** Written to the child's standard input, which is then closed (else the child shares ours). */
  stdin?: string;
  /** The child reports its progress (torch/distributed/heartbeat.ts) and is killed when it stops (see watchStalls). */
  heartbeat?: boolean;
}

/** How a child ended: its exit code (128 + the signal's number when a signal ended it), and that signal. */
interface Ended {
  code: number;
  signal: NodeJS.Signals | null;
}

/** The latest heartbeat of a child: its state and when it came ("none" before the first, or once it is dealt with). */
interface Pulse {
  state: BeatState | "none";
  at: number;
}

interface Running {
  spec: ProcSpec;
  child: ChildProcess;
  tail: string[];
  exit: Promise<Ended>;
  pulse: Pulse;
}

function ended(code: number | null, signal: NodeJS.Signals | null): Ended {
  return { code: code ?? 128 + (signal === null ? 15 : constants.signals[signal]), signal };
}

const describeEnd = (e: Ended): string => (e.signal === null ? `failed with exit code ${e.code}` : `was killed by ${e.signal}`);

/** Whether the process is stopped (SIGSTOP, a debugger): Linux's /proc state T or t; false where unknown. */
function isStopped(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return /^[Tt]$/.test(stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3));
  } catch {
    return false;
  }
}

const HEARTBEAT_FD = 3;

function start(spec: ProcSpec): Running {
  const child = spawn(spec.command[0], spec.command.slice(1), {
    // The heartbeat names this launcher's pid, so that a grandchild inheriting the variable (whose
    // descriptor 3 is something else) does not take it as its own.
    env: spec.heartbeat === true ? { ...spec.env, [HEARTBEAT_ENV]: `${HEARTBEAT_FD}:${process.pid}` } : spec.env,
    stdio: [spec.stdin === undefined ? "inherit" : "pipe", "pipe", "pipe", ...(spec.heartbeat === true ? (["pipe"] as const) : [])],
    detached: spec.group === true,
  });
  if (spec.stdin !== undefined) {
    child.stdin!.on("error", () => undefined); // a child that never reads it
    child.stdin!.end(spec.stdin);
  }
  const pulse: Pulse = { state: "none", at: 0 };
  if (spec.heartbeat === true) {
    const beats = child.stdio[HEARTBEAT_FD] as Readable;
    beats.on("data", (d: Buffer) => {
      pulse.at = Date.now();
      pulse.state = String.fromCharCode(d[d.length - 1]) as BeatState;
    });
    beats.on("error", () => undefined);
  }
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
  const exit = new Promise<Ended>((resolve) => {
    child.on("error", (e) => {
      tail.push(`could not start: ${e.message}`);
      resolve({ code: 127, signal: null });
    });
    child.on("exit", (code, signal) => void streams.then(() => resolve(ended(code, signal))));
  });
  return { spec, child, tail, exit, pulse };
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

function stopAll(running: Running[], signal: NodeJS.Signals, graceMs = KILL_GRACE_MS): void {
  for (const r of running) kill(r, signal);
  setTimeout(() => running.forEach((r) => kill(r, "SIGKILL")), graceMs).unref();
}

export type Log = (line: string) => void;
const stderrLog: Log = (l) => process.stderr.write(`${l}\n`);

interface Outcome {
  /** The job's exit code: the first failure's, or 130/143 when interrupted. */
  code: number;
  interrupted: boolean;
  failed: { r: Running; end: Ended } | null;
  /** Children found stopped when the first failure came (hung ranks, e.g. SIGSTOP). */
  stopped: Running[];
}

/**
 * Watches for a stalled child, whose peers would wait in a collective until the collective timeout,
 * and kills it, which fails the group at once:
 * - one whose heartbeat (heartbeat.ts) says it is running but has not come for `stallMs`: it is
 *   stuck outside tessera's collectives (a busy loop, a call that never returns); one that waits
 *   in a collective for its peers is not stalled itself;
 * - one that stays stopped (SIGSTOP, a debugger) for `stallMs`, heartbeat or not.
 */
function watchStalls(running: Running[], stallMs: number, log: Log): () => void {
  const stoppedSince = new Map<Running, number>();
  const timer = setInterval(
    () => {
      const now = Date.now();
      for (const r of running) {
        if (!isStopped(r.child.pid)) {
          stoppedSince.delete(r);
          if (r.pulse.state === "p" && now - r.pulse.at >= stallMs) {
            log(
              `tessera run: ${r.spec.name} made no progress for ${((now - r.pulse.at) / 1000).toFixed(1)} s: its heartbeat stopped outside a collective (a busy loop, or a call that never returns) (--stall-timeout ${stallMs / 1000}); killing it`,
            );
            r.pulse.state = "none";
            kill(r, "SIGKILL");
          }
          continue;
        }
        const since = stoppedSince.get(r) ?? now;
        stoppedSince.set(r, since);
        if (now - since >= stallMs) {
          log(
            `tessera run: ${r.spec.name} has been stopped (SIGSTOP or a debugger) for ${Math.round((now - since) / 1000)} s (--stall-timeout ${stallMs / 1000}); killing it`,
          );
          stoppedSince.delete(r);
          kill(r, "SIGKILL");
        }
      }
    },
    Math.min(1000, Math.max(50, stallMs / 4)),
  );
  return () => clearInterval(timer);
}

/** Runs the children to the end, forwarding SIGINT/SIGTERM; when one fails, the others are stopped. */
async function runOnce(specs: ProcSpec[], interruptGraceMs: number, stallMs: number, log: Log): Promise<Outcome> {
  const running = specs.map(start);
  const stopWatching = watchStalls(running, stallMs, log);
  let interrupted: NodeJS.Signals | null = null;
  const handlers = (["SIGINT", "SIGTERM"] as const).map((sig) => {
    const h = (): void => {
      // A second signal does not wait for the workers any more.
      stopAll(running, interrupted === null ? sig : "SIGKILL", interruptGraceMs);
      interrupted ??= sig;
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  let failed: Outcome["failed"] = null;
  let stopped: Running[] = [];
  try {
    await Promise.all(
      running.map(async (r) => {
        const end = await r.exit;
        if (end.code !== 0 && failed === null && interrupted === null) {
          failed = { r, end };
          stopped = running.filter((o) => o !== r && isStopped(o.child.pid));
          stopAll(running, "SIGTERM");
        }
      }),
    );
  } finally {
    stopWatching();
    for (const [sig, h] of handlers) process.off(sig, h);
  }
  const f = failed as Outcome["failed"];
  if (interrupted !== null) return { code: interrupted === "SIGINT" ? 130 : 143, interrupted: true, failed: f, stopped };
  return { code: f?.end.code ?? 0, interrupted: false, failed: f, stopped };
}

export interface SuperviseOptions {
  /** How many times a failed group is started again (default 0). */
  maxRestarts?: number;
  /** How long children get after a forwarded SIGINT/SIGTERM before they are killed (default 3 s). */
  interruptGraceMs?: number;
  /**
   * The one script of a plain run: no other process to stop, and when it exits with an error code
   * it has said why on its error output, so its end is logged only to announce a restart. Killed
   * by a signal it could not say why, and is always named.
   */
  single?: boolean;
  /**
   * How long a child may go without a heartbeat outside a collective, or stay stopped (SIGSTOP, a
   * debugger), before it is killed (default 120 s, below the collective timeout).
   */
  stallTimeoutMs?: number;
}

/**
 * The default of --stall-timeout: a stalled rank is found before a collective times out (5 minutes),
 * and a step that computes for up to two minutes between heartbeats is not taken for a stall.
 */
export const DEFAULT_STALL_TIMEOUT_MS = 120_000;

/**
 * Runs the children to the end (see runOnce). When one fails, its last error lines are shown and,
 * while restarts are left, the whole group is started again (`specs(restart)`). Resolves to the
 * job's exit code.
 */
export async function supervise(
  specs: ProcSpec[] | ((restart: number) => ProcSpec[]),
  log: Log = stderrLog,
  options: SuperviseOptions = {},
): Promise<number> {
  const { maxRestarts = 0, interruptGraceMs = KILL_GRACE_MS, single = false, stallTimeoutMs = DEFAULT_STALL_TIMEOUT_MS } = options;
  for (let restart = 0; ; restart++) {
    const group = typeof specs === "function" ? specs(restart) : specs;
    const o = await runOnce(group, interruptGraceMs, stallTimeoutMs, log);
    if (o.interrupted || o.failed === null) return o.code;
    const { r, end } = o.failed;
    if (!single || end.signal !== null || restart < maxRestarts) {
      const others = single ? "" : "; stopped the others";
      log(`tessera run: ${r.spec.name} ${describeEnd(end)}${others}.${r.tail.length > 0 ? " Its last error output:" : ""}`);
      for (const line of r.tail) log(`  ${r.spec.prefix}${line}`);
    }
    for (const s of o.stopped) log(`tessera run: ${s.spec.name} was stopped (hung) when it failed; treated as dead`);
    if (restart >= maxRestarts) return o.code;
    log(`tessera run: restarting the worker group (restart ${restart + 1} of ${maxRestarts}) after ${r.spec.name} ${describeEnd(end)}`);
  }
}

/** Runs this node's workers (one per local rank) to the end. */
export function runWorkers(spec: NodeSpec, log: Log = stderrLog, interruptGraceMs?: number): Promise<number> {
  const specs = (restart: number): ProcSpec[] =>
    Array.from({ length: spec.nprocPerNode }, (_, local): ProcSpec => {
      const rank = spec.nodeRank * spec.nprocPerNode + local;
      return {
        name: `rank ${rank}`,
        command: spec.command,
        env: workerEnv(spec, local, restart),
        prefix: rank === 0 && spec.prefixRank0 === false ? "" : `[rank${rank}]: `,
        heartbeat: true,
      };
    });
  return supervise(specs, log, { maxRestarts: spec.maxRestarts, interruptGraceMs, stallTimeoutMs: spec.stallTimeoutMs });
}
