// The V8 heap flags tessera starts its processes with (`tessera run`, its workers, self-launched
// ranks). A value the user chose for a flag, in node's own arguments or in NODE_OPTIONS, wins.
//
// --max-semi-space-size=1: a tensor's native memory is freed when V8 collects the JS object that
// owns it, and short-lived objects are collected when the young generation fills. With node's
// default young generation (semi-spaces growing to 16 MiB) tens of thousands of tensors die in one
// collection: freeing them touches memory long out of cache and makes the allocator coalesce and
// split again, which costs more than the ops that made them, and native memory piles up between
// collections. A 1 MiB semi-space collects every few thousand ops instead, so their memory is
// reused while still hot: on the dispatch benchmark a tiny add runs ~25 % faster, and a small
// training loop's RSS stays ~30 % lower and flat from the start (bench/RESULTS.md).
//
// --initial-old-space-size=64: a training loop's JS heap is small (~15 MB) and nearly all live, and
// V8 starts a full collection whenever the old generation nears its limit, which it sizes from that
// heap: every second step on the small Llama, marking ~15 MB for almost no garbage. Starting the
// limit at 64 MB leaves one full collection per 20 steps and ~3.5 % less CPU a step; what the
// collections freed (tensors handed to the GC) the young collections free (torch/_young_gc.ts).
const DEFAULTS: readonly (readonly [name: string, value: string])[] = [
  ["--max-semi-space-size", "1"],
  ["--initial-old-space-size", "64"],
];

/** The flags tessera starts node with when the user set none of them. */
export const HEAP_FLAGS: readonly string[] = DEFAULTS.map(([name, value]) => `${name}=${value}`);

const isFlag = (name: string) => (arg: string) => arg === name || arg.startsWith(`${name}=`);
const isHeapFlag = (arg: string): boolean => DEFAULTS.some(([name]) => isFlag(name)(arg));

/** The heap flags a child node process should get: for each, the user's own, else tessera's. */
export function heapFlags(execArgv: readonly string[] = process.execArgv, nodeOptions: string = process.env.NODE_OPTIONS ?? ""): string[] {
  const options = nodeOptions.split(/\s+/);
  return DEFAULTS.flatMap(([name, value]) => {
    const own = execArgv.filter(isFlag(name));
    if (own.length !== 0) return own;
    return options.some(isFlag(name)) ? [] : [`${name}=${value}`];
  });
}

/** This process's node arguments for a child, with the heap flags made explicit. */
export function childNodeArgs(execArgv: readonly string[] = process.execArgv): string[] {
  return [...execArgv.filter((a) => !isHeapFlag(a)), ...heapFlags(execArgv)];
}
