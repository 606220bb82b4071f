// Collections driven by tensor memory. A tensor no scope owns (a step's logits held in `out`, a
// parameter) is freed by its wrapper's finalizer, so the GC decides when its memory goes. Left to
// V8's external-memory count, that goes wrong both ways: V8 starts a full collection only after
// 64 MiB of it (a loop holds several dead steps' outputs, RSS moves in 16 MiB steps on the small
// Llama), yet it also counts external memory grown since its last full collection against the old
// generation's few MiB of slack, so each step's 16 MiB of logits started one more full collection
// (one every 1-2 steps, most of them in the forward, with their concurrent marking on the other
// core: 2-3 % of the small Llama's forward). So tessera keeps the count itself (the bytes of
// tensors only the GC will free), leaves V8's count out of it, and starts the collections:
// - a young one each time TESSERA_YOUNG_GC_MB (default 32; 0 hands it all back to V8) more have
//   been handed over: the wrappers of a step's outputs are still young a step later (a step
//   allocates ~100 KB of JS objects, so no scavenge runs between steps), and a scavenge, ~0.5 ms on
//   a training loop's heap, finds them dead and runs their finalizers;
// - a full one when, after the young one, the count has grown by FULL_GROWTH_MIN or half its
//   level, whichever is more, since the lowest level seen since the last full one: wrappers that
//   got old while alive (a tensor kept across steps, then dropped) wait for a full collection.
// A steady training loop runs no full collection at all (bench/RESULTS.md).
import v8 from "node:v8";
import vm from "node:vm";
import { native } from "./_native.js";

const DEFAULT_MB = 32;
// V8's own allowance for external memory between full collections.
const FULL_GROWTH_MIN = 64 * 2 ** 20;

function thresholdBytes(): number {
  const raw = process.env.TESSERA_YOUNG_GC_MB;
  if (raw === undefined || raw === "") return DEFAULT_MB * 2 ** 20;
  const mb = Number(raw);
  if (!Number.isFinite(mb) || mb < 0) throw new RangeError(`TESSERA_YOUNG_GC_MB must be a non-negative number of MiB, got '${raw}'`);
  return mb * 2 ** 20;
}

// V8's gc(): no argument is a full collection that runs the finalizers before it returns (one asked
// for as {type: "major"} leaves them for later); {type: "minor"} a scavenge.
type GcFunction = (options?: { type: "minor" }) => void;

// Taken from a context made while --expose-gc is on; the flag goes back off at once, so no other
// context (a user's vm context, a worker) sees a `gc` it did not ask for.
function gcFunction(): GcFunction {
  const existing = (globalThis as { gc?: GcFunction }).gc;
  if (typeof existing === "function") return existing;
  v8.setFlagsFromString("--expose-gc");
  try {
    return vm.runInNewContext("gc") as GcFunction;
  } finally {
    v8.setFlagsFromString("--no-expose-gc");
  }
}

const threshold = thresholdBytes();
if (threshold !== 0) native.setV8ExternalMemory(false);
let handed = 0;
let floor = 0; // the lowest count seen since the last full collection
let gc: GcFunction | undefined;

/** Counts `bytes` newly handed to the GC; runs the collections they call for. */
export function handedToGc(bytes: number): void {
  if (bytes === 0 || threshold === 0) return;
  handed += bytes;
  if (handed < threshold) return;
  handed = 0;
  gc ??= gcFunction();
  gc({ type: "minor" });
  const owned = native.gcOwnedBytes();
  if (owned > floor + Math.max(FULL_GROWTH_MIN, floor / 2)) {
    gc();
    floor = native.gcOwnedBytes();
  } else {
    floor = Math.min(floor, owned);
  }
}
