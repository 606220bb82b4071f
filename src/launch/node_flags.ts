// The V8 flag tessera starts its processes with (`tessera run`, its workers, self-launched ranks).
//
// A tensor's native memory is freed when V8 collects the JS object that owns it, and short-lived
// objects are collected when the young generation fills. With node's default young generation
// (semi-spaces growing to 16 MiB) tens of thousands of tensors die in one collection: freeing them
// touches memory long out of cache and makes the allocator coalesce and split again, which costs
// more than the ops that made them, and native memory piles up between collections. A 1 MiB
// semi-space collects every few thousand ops instead, so their memory is reused while still hot:
// on the dispatch benchmark a tiny add runs ~25 % faster, and a small training loop's RSS stays
// ~30 % lower and flat from the start (bench/RESULTS.md). A value the user chose, in node's own
// arguments or in NODE_OPTIONS, wins.
const FLAG = "--max-semi-space-size";
export const YOUNG_GENERATION_FLAG = `${FLAG}=1`;

const isYoungGenerationFlag = (arg: string): boolean => arg === FLAG || arg.startsWith(`${FLAG}=`);

/** The young-generation flags a child node process should get. */
export function youngGenerationFlags(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string = process.env.NODE_OPTIONS ?? "",
): string[] {
  const own = execArgv.filter(isYoungGenerationFlag);
  if (own.length !== 0) return own;
  if (nodeOptions.split(/\s+/).some(isYoungGenerationFlag)) return [];
  return [YOUNG_GENERATION_FLAG];
}

/** This process's node arguments for a child, with the young-generation flag made explicit. */
export function childNodeArgs(execArgv: readonly string[] = process.execArgv): string[] {
  return [...execArgv.filter((a) => !isYoungGenerationFlag(a)), ...youngGenerationFlags(execArgv)];
}
