// Young-generation collections driven by tensor memory. A tensor no scope owns (a step's logits
// held in `out`) is freed by its wrapper's finalizer, and V8 learns of the native memory only
// through the external-memory count, which starts a full collection after 64 MiB: a training loop
// then holds several dead steps' outputs at once (RSS moves in 16 MiB steps on the small Llama) and
// pays a full mark-compact every few steps. The wrappers of such tensors are young (a step
// allocates ~100 KB of JS objects, so no scavenge runs between steps): a scavenge, ~0.5 ms on a
// training loop's heap, finds the earlier steps' dead and runs their finalizers. So once the
// tensors handed to the GC since the last one reach TESSERA_YOUNG_GC_MB (default 32; 0 turns it
// off), tessera runs one: a loop holds at most that much of dead outputs, and RSS stays flat. Each
// scavenge also lets V8 check its old-generation limit, which starts a full collection about every
// second time on that heap: at 16 MiB (one scavenge a step on the small Llama) that cost 3 % CPU a
// step, at 32 MiB nothing measurable (bench/RESULTS.md).
import v8 from "node:v8";
import vm from "node:vm";

const DEFAULT_MB = 32;

function thresholdBytes(): number {
  const raw = process.env.TESSERA_YOUNG_GC_MB;
  if (raw === undefined || raw === "") return DEFAULT_MB * 2 ** 20;
  const mb = Number(raw);
  if (!Number.isFinite(mb) || mb < 0) throw new RangeError(`TESSERA_YOUNG_GC_MB must be a non-negative number of MiB, got '${raw}'`);
  return mb * 2 ** 20;
}

type GcFunction = (options: { type: "minor" }) => void;

// V8's gc() with its options object, from a context made while --expose-gc is on; the flag goes back
// off at once, so no other context (a user's vm context, a worker) sees a `gc` it did not ask for.
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
let handed = 0;
let gc: GcFunction | undefined;

/** Counts `bytes` newly handed to the GC; runs a young collection when they reach the threshold. */
export function handedToGc(bytes: number): void {
  if (bytes === 0 || threshold === 0) return;
  handed += bytes;
  if (handed < threshold) return;
  handed = 0;
  (gc ??= gcFunction())({ type: "minor" });
}
