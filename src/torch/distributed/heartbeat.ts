// A launched worker's heartbeat to `tessera run` (TESSERA_HEARTBEAT="<fd>:<launcher pid>"): one byte
// on a pipe, 'p' (progressing), 'w' (waiting for the other ranks: a collective, a store wait, a
// group's rendezvous) or 'd' (done: the process group was destroyed). The launcher kills a rank
// whose last word is 'p' and that has been silent for --stall-timeout.
//
// Progress comes from the main JS thread, on purpose: a rank spinning in JS (or stuck in a call
// that never returns) never reaches it, which is the stall to find; a native thread would keep
// beating. It comes before and after every collective and store wait, at every optimizer step, and
// every second from a timer while the event loop is free, at most every 250 ms. A wait that lasts
// over 100 ms is announced ('w') by a native helper thread (native/src/heartbeat.cc), so that the
// many short waits of a training step cost no system call. Between init_process_group and
// destroy_process_group only: before, no peer can wait on this rank in a collective.
import { fstatSync, writeSync } from "node:fs";
import { native } from "../_native.js";
import { HEARTBEAT_ENV, type BeatState } from "./heartbeat_wire.js";

/** Repeats of the same state closer than this are not sent (a collective loop would send thousands). */
const MIN_INTERVAL_MS = 250;
const TIMER_MS = 1000;

let fd: number | null | undefined;
let lastState: BeatState | null = null;
let lastAt = 0;
let timer: NodeJS.Timeout | null = null;

/** The pipe to this process's launcher, or null: not launched, or the variable was inherited from an ancestor's launcher. */
function channel(): number | null {
  const m = /^(\d+):(\d+)$/.exec(process.env[HEARTBEAT_ENV] ?? "");
  if (m === null || Number(m[2]) !== process.ppid) return null;
  try {
    const st = fstatSync(Number(m[1]));
    return st.isFIFO() || st.isSocket() ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function send(state: BeatState): void {
  if (fd === undefined || fd === null || timer === null) return;
  const now = Date.now();
  if (state === lastState && now - lastAt < MIN_INTERVAL_MS) return;
  try {
    writeSync(fd, state);
  } catch (e) {
    // A full pipe (EAGAIN) loses one beat; any other error means the launcher is gone.
    if ((e as NodeJS.ErrnoException).code !== "EAGAIN") fd = null;
    return;
  }
  lastState = state;
  lastAt = now;
}

/** Starts beating (init_process_group, once connected); nothing outside `tessera run`'s workers. */
export function startHeartbeat(): void {
  if (fd === undefined) fd = channel();
  if (fd === null || timer !== null) return;
  timer = setInterval(() => send("p"), TIMER_MS);
  timer.unref();
  native.heartbeatSetFd(fd);
  send("p");
}

/** Stops beating (destroy_process_group): the launcher stops watching this rank. */
export function stopHeartbeat(): void {
  if (timer === null) return;
  native.heartbeatSetFd(-1);
  send("d");
  clearInterval(timer);
  timer = null;
}

/** This rank made progress (an optimizer step, a collective call). */
export function progress(): void {
  send("p");
}

/**
 * Runs `wait`, which blocks on the other ranks, reported as waiting once it lasts (so this rank is
 * not the stalled one). The beat before it keeps the launcher's last 'p' fresh until 'w' comes.
 */
export function waitingOnPeers<T>(wait: () => T): T {
  if (timer === null) return wait();
  send("p");
  native.heartbeatWaitBegin();
  try {
    return wait();
  } finally {
    native.heartbeatWaitEnd();
    send("p");
  }
}
