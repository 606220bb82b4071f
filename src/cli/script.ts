// What a script shares with tessera's own commands, exported from `tessera` as `cli`: strict argument
// parsing with --help, checked option values, the exit-code convention (0 ok, 2 bad usage or input,
// 1 failure while running) and its error types, the GPUs as nvidia-smi lists them, and the
// write-then-rename of a file. The tutorial's scripts and `tessera prepare` use it alike.
import { existsSync, statSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { RunError, UsageError, oneLine } from "./options.js";

export { RunError, UsageError, asBadInput, nonNegativeInt, oneLine, positiveInt } from "./options.js";
export { gpuRows, type DeviceRow } from "./smi.js";
export { writeAtomically } from "../torch/serialization/atomic.js";

export const EXIT_CODES = "exit codes: 0 done, 2 bad usage or bad input (the message says which), 1 failure while running";

type Options = NonNullable<ParseArgsConfig["options"]>;
export type Values = Record<string, string | boolean | undefined>;

/** Parses argv strictly; returns null when --help was asked (the usage is printed). */
export function parse(argv: string[], options: Options, usage: string): Values | null {
  let values: Values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { ...options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    }) as { values: Values });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help === true) {
    console.log(usage);
    return null;
  }
  return values;
}

export function positiveNumber(values: Values, name: string, fallback: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (typeof raw !== "string" || raw.trim() === "" || !Number.isFinite(v) || v <= 0)
    throw new UsageError(`--${name} ${String(raw)}: expected a positive number`);
  return v;
}

export function string(values: Values, name: string, fallback?: string): string {
  const raw = values[name];
  if (typeof raw === "string") return raw;
  if (fallback === undefined) throw new UsageError(`--${name} is required`);
  return fallback;
}

export function existingDir(path: string, what: string): string {
  if (!existsSync(path) || !statSync(path).isDirectory()) throw new UsageError(`${what} ${path} is not a folder`);
  return path;
}

/** A folder the script will write: refused at once when a file (not a folder) is in its place. */
export function outputDir(path: string, what: string): string {
  if (existsSync(path) && !statSync(path).isDirectory()) throw new UsageError(`${what} ${path} is a file, not a folder`);
  return path;
}

export function existingFile(path: string, what: string): string {
  if (!existsSync(path) || !statSync(path).isFile()) throw new UsageError(`${what} ${path} does not exist or is not a file`);
  return path;
}

/** Runs a script's main with the exit-code convention: UsageError → 2, other errors → 1. */
export async function runMain(name: string, main: () => Promise<void> | void): Promise<number> {
  try {
    await main();
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`${name}: ${oneLine(e.message)} (run '${name} --help' for the options)`);
      return 2;
    }
    if (e instanceof RunError) {
      console.error(`${name}: ${oneLine(e.message)}`);
      return 1;
    }
    console.error(`${name}: ${(e as Error).stack ?? String(e)}`);
    return 1;
  }
}

/** True when `moduleUrl` is the script node was started with (not imported by another module). */
export function isEntryPoint(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && moduleUrl === pathToFileURL(process.argv[1]).href;
}
