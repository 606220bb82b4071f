// Young collections driven by tensor memory (src/torch/_young_gc.ts): a loop that leaves each
// tensor to the GC holds at most TESSERA_YOUNG_GC_MB of dead ones, where V8 alone lets 64 MiB of
// external memory pile up before its full collection. Each case runs in a fresh node without
// --expose-gc (the test runner's flag would hand the mechanism a ready `gc`), counting the caching
// allocator's blocks in use (reserved - cached) after each 4 MiB tensor.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { runNodeScript } from "../helpers/node_script.js";
import { repoRoot } from "../helpers/oracle.js";

const MiB = 1 << 20;
const LOOP = `
import { torch } from ${JSON.stringify(path.join(repoRoot, "src/index.js"))};
import { cpu_caching_allocator_stats } from ${JSON.stringify(path.join(repoRoot, "src/torch/cpu_memory.js"))};
torch.full([${MiB}], 1.0);
let peak = 0;
for (let i = 0; i < 60; i++) {
  const t = torch.full([${MiB}], i);
  if (t.sum().item() !== ${MiB} * i) throw new Error("wrong values at " + i);
  const s = cpu_caching_allocator_stats();
  peak = Math.max(peak, s.reserved_bytes - s.cached_bytes);
}
console.log(JSON.stringify({ peak, gcVisible: typeof globalThis.gc }));
`;

function run(env: Record<string, string>) {
  const { TESSERA_YOUNG_GC_MB: _drop, ...base } = process.env;
  return runNodeScript(LOOP, { ...base, ...env });
}

function peakOf(env: Record<string, string>): { peak: number; gcVisible: string } {
  const r = run(env);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { peak: number; gcVisible: string };
}

test("tensors left to the GC are collected once 32 MiB of them are handed over (the default)", () => {
  const on = peakOf({});
  // The 8th tensor of 4 MiB starts the collection; it is alive then, the 7 before it are not.
  assert.ok(on.peak <= 32 * MiB + 4 * MiB, `peak ${on.peak / MiB} MiB in use`);
  assert.equal(on.gcVisible, "undefined", "the --expose-gc flag is put back: user code sees no gc");
  const off = peakOf({ TESSERA_YOUNG_GC_MB: "0" });
  assert.ok(off.peak >= 48 * MiB, `V8 alone: peak ${off.peak / MiB} MiB in use`);
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
