// Collections driven by tensor memory (src/torch/_tensor_gc.ts): a loop that leaves each tensor to
// the GC holds at most TESSERA_YOUNG_GC_MB of dead ones, where V8 alone lets 64 MiB of external
// memory pile up before its full collection; tensors that got old while alive are freed by a full
// collection once the GC's tensors have grown by 64 MiB; V8's external-memory count is left out, so
// V8 starts no full collection of its own for them.
// Each case runs in a fresh node without --expose-gc (the test runner's flag would hand the
// mechanism a ready `gc`), counting the caching allocator's blocks in use (reserved - cached).
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { runNodeScript } from "../helpers/node_script.js";
import { repoRoot } from "../helpers/oracle.js";

const MiB = 1 << 20;
const IMPORTS = `
import { torch } from ${JSON.stringify(path.join(repoRoot, "src/index.js"))};
import { cpu_caching_allocator_stats } from ${JSON.stringify(path.join(repoRoot, "src/torch/cpu_memory.js"))};
const inUse = () => { const s = cpu_caching_allocator_stats(); return s.reserved_bytes - s.cached_bytes; };
`;
const LOOP = `${IMPORTS}
import { PerformanceObserver, constants } from "node:perf_hooks";
torch.full([${MiB}], 1.0);
// Full collections V8 starts itself (tessera's own are forced ones).
let v8Majors = 0;
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR && !(e.detail.flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED)) v8Majors++;
});
obs.observe({ entryTypes: ["gc"] });
let peak = 0;
for (let i = 0; i < 60; i++) {
  const t = torch.full([${MiB}], i);
  if (t.sum().item() !== ${MiB} * i) throw new Error("wrong values at " + i);
  peak = Math.max(peak, inUse());
}
await new Promise((resolve) => setTimeout(resolve, 20)); // gc entries arrive on the event loop
obs.disconnect();
console.log(JSON.stringify({ peak, v8Majors, gcVisible: typeof globalThis.gc }));
`;

function run(env: Record<string, string>, code = LOOP) {
  const { TESSERA_YOUNG_GC_MB: _drop, ...base } = process.env;
  return runNodeScript(code, { ...base, ...env });
}

function resultOf<T>(env: Record<string, string>, code = LOOP): T {
  const r = run(env, code);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as T;
}

const peakOf = (env: Record<string, string>) => resultOf<{ peak: number; v8Majors: number; gcVisible: string }>(env);

test("tensors left to the GC are collected once 32 MiB of them are handed over (the default)", () => {
  const on = peakOf({});
  // The 8th tensor of 4 MiB starts the collection; it is alive then, the 7 before it are not.
  assert.ok(on.peak <= 32 * MiB + 4 * MiB, `peak ${on.peak / MiB} MiB in use`);
  assert.equal(on.gcVisible, "undefined", "the --expose-gc flag is put back: user code sees no gc");
  // V8's external count is left out: the 240 MiB handed over start no full collection of V8's.
  assert.equal(on.v8Majors, 0);
  const off = peakOf({ TESSERA_YOUNG_GC_MB: "0" });
  assert.ok(off.peak >= 48 * MiB, `V8 alone: peak ${off.peak / MiB} MiB in use`);
  assert.ok(off.v8Majors >= 1, `V8 alone: ${off.v8Majors} full collections`);
});

test("TESSERA_YOUNG_GC_MB sets the threshold", () => {
  const r = peakOf({ TESSERA_YOUNG_GC_MB: "8" });
  assert.ok(r.peak <= 8 * MiB + 4 * MiB, `peak ${r.peak / MiB} MiB in use`);
});

test("a TESSERA_YOUNG_GC_MB that is not a non-negative number is an error naming it", () => {
  const r = run({ TESSERA_YOUNG_GC_MB: "lots" });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /TESSERA_YOUNG_GC_MB must be a non-negative number of MiB, got 'lots'/);
});

// 40 tensors of 4 MiB kept across several young collections (their wrappers get old), then dropped;
// 30 more made and dropped one by one.
const OLD_THEN_DROPPED = `${IMPORTS}
let kept = [];
for (let i = 0; i < 40; i++) kept.push(torch.full([${MiB}], i));
const held = inUse();
kept = null;
for (let i = 0; i < 30; i++) torch.full([${MiB}], i);
console.log(JSON.stringify({ held, after: inUse() }));
`;

test("tensors that got old while alive are freed by a full collection once 64 MiB more are handed over", () => {
  const r = resultOf<{ held: number; after: number }>({}, OLD_THEN_DROPPED);
  assert.ok(r.held >= 160 * MiB, `held ${r.held / MiB} MiB`);
  assert.ok(r.after <= 64 * MiB, `${r.after / MiB} MiB still in use after the drop`);
});
