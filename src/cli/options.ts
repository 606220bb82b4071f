// Option values shared by the CLI's commands and the tutorial's scripts: one error type for bad
// usage (exit code 2) and the checked number parsers.

/** Bad usage or input: the command exits with 2 and the message. */
export class UsageError extends Error {}

/** A required (or defaulted) `--name N` with N a positive integer. */
export function positiveInt(values: Record<string, unknown>, name: string, fallback?: number): number {
  const raw = values[name];
  if (raw === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} is required`);
    return fallback;
  }
  if (typeof raw !== "string" || !/^\d+$/.test(raw) || Number(raw) < 1) throw new UsageError(`--${name} ${String(raw)}: expected a positive integer`);
  return Number(raw);
}
