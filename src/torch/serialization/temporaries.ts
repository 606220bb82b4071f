// Temporary files and folders of saves in progress, removed when SIGINT or SIGTERM ends the process.
// Saves run synchronously, so a JS handler only runs once the save has returned or thrown; the
// listener is what turns "die in the middle of the write, leaving the temporary" into "finish or
// undo the write, then die of the same signal". It is removed a turn of the event loop after the
// last save ends, not at once: a signal that arrived during the save is still queued then, and
// removing the listener before it is delivered would lose it. (A temporary left by SIGKILL is
// removed by the next save of the same folder.)
import { rmSync } from "node:fs";

const live = new Set<string>();
const SIGNALS = ["SIGINT", "SIGTERM"] as const;
let listening = false;
let releasing = false;

function stopListening(): void {
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  listening = false;
}

function onSignal(signal: NodeJS.Signals): void {
  for (const p of live) rmSync(p, { recursive: true, force: true });
  live.clear();
  stopListening();
  // The program's own listeners decide what the signal does; without any, it does what it would
  // have done without us: the default action, now that no listener is left.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

/** Registers `file` (a path to remove on SIGINT/SIGTERM); returns the call that unregisters it. */
export function trackTemporary(file: string): () => void {
  if (!listening) {
    for (const s of SIGNALS) process.on(s, onSignal);
    listening = true;
  }
  live.add(file);
  return () => {
    live.delete(file);
    if (live.size > 0 || releasing) return;
    releasing = true;
    // Two check phases later: the event loop's poll phase, which delivers queued signals, has run
    // in between (one turn may not suffice: a save ending inside a poll callback is followed by
    // that turn's check phase before the next poll).
    setImmediate(() => {
      setImmediate(() => {
        releasing = false;
        if (live.size === 0 && listening) stopListening();
      }).unref();
    }).unref();
  };
}
