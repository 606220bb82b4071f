// Starts one node process per rank running a worker script under tsx, rendezvousing through a
// FileStore in a fresh temp dir; collects each rank's exit code, output and `RESULT <json>` line.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, "..", "..");

export interface RankOutput {
  code: number | null;
  stdout: string;
  stderr: string;
  result: unknown;
}

export function runRanks(worker: string, world: number, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<RankOutput[]> {
  const init = `file://${path.join(mkdtempSync(path.join(os.tmpdir(), "tessera-dist-")), "store")}`;
  const script = path.join(here, "workers", worker);
  return Promise.all(
    Array.from(
      { length: world },
      (_, rank) =>
        new Promise<RankOutput>((resolve) => {
          const child = spawn(process.execPath, ["--import", "tsx", script, ...extraArgs], {
            cwd: repoRoot,
            env: { ...process.env, ...env, RANK: String(rank), WORLD_SIZE: String(world), TESSERA_TEST_INIT: init },
          });
          let stdout = "";
          let stderr = "";
          child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
          child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
          child.on("close", (code) => {
            const line = stdout.split("\n").find((l) => l.startsWith("RESULT "));
            resolve({ code, stdout, stderr, result: line === undefined ? null : JSON.parse(line.slice(7)) });
          });
        }),
    ),
  );
}
