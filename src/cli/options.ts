// Option values shared by the CLI's commands and the tutorial's scripts: one error type for bad
// usage (exit code 2) and the checked number parsers.

/** Bad usage or input: the command exits with 2 and the message. */
export class UsageError extends Error {}

/** Messages of file and JSON errors can span lines (V8 quotes the source); commands print one. */
export const oneLine = (message: string): string => message.replace(/\s*\n\s*/g, " ");

/** A failure while running whose message says all there is to say: exit 1 with it, no stack. */
export class RunError extends Error {}

/** Runs `load` (reading a file the user named); any error it throws is bad input, named by `what`. */
export function asBadInput<T>(what: string, load: () => T): T {
  try {
    return load();
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${what}: ${(e as Error).message}`);
  }
}

/** A required (or defaulted) `--name N` with N a positive integer. */
export function positiveInt(values: Record<string, unknown>, name: string, fallback?: number): number {
  return integerAtLeast(values, name, 1, "a positive integer", fallback);
}

/** A required (or defaulted) `--name N` with N an integer >= 0 (a seed, a count that may be zero). */
export function nonNegativeInt(values: Record<string, unknown>, name: string, fallback?: number): number {
  return integerAtLeast(values, name, 0, "an integer >= 0", fallback);
}

/** A positive `--name N` no larger than `max`: a value past any real job's is refused before work sized by it starts. */
export function boundedPositiveInt(values: Record<string, unknown>, name: string, max: number, fallback?: number): number {
  const n = positiveInt(values, name, fallback);
  if (n > max) throw new UsageError(`--${name} ${n}: expected at most ${max}`);
  return n;
}

function integerAtLeast(
  values: Record<string, unknown>,
  name: string,
  min: number,
  expected: string,
  fallback: number | undefined,
): number {
  const raw = values[name];
  if (raw === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} is required`);
    return fallback;
  }
  const n = typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} ${String(raw)}: expected ${expected}`);
  return n;
}
