// A fresh node process for what one test process cannot show: start-up settings (environment
// variables read at load), V8 flags the test runner sets, a process that must fail.
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { repoRoot } from "./oracle.js";

/** Runs `code` (an ES module, TypeScript through tsx) in a new node from the repository root. */
export function runNodeScript(code: string, env: NodeJS.ProcessEnv = process.env, timeoutMs = 120_000): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    encoding: "utf8",
    cwd: repoRoot,
    env,
    timeout: timeoutMs,
  });
}
