// Runs a test script as a self-launched job (the one line makes TESSERA_NPROC ranks), or as two
// "nodes" of `tessera run` on this machine, and collects each rank's JSON report line.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../../src/launch/free_port.js";

export const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const tessera = path.join(root, "bin", "tessera.mjs");

function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const k of ["RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "TESSERA_PLAN", "TESSERA_NPROC"]) {
    if (!(k in extra)) delete env[k];
  }
  return env;
}

export function reports<T>(stdout: string): T[] {
  return stdout
    .split("\n")
    .map((l) => l.replace(/^\[rank\d+\]: /, ""))
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as T)
    .sort((a, b) => (a as { rank: number }).rank - (b as { rank: number }).rank);
}

export interface JobResult<T> {
  status: number | null;
  stdout: string;
  stderr: string;
  reports: T[];
}

/** `node script args` as `nproc` self-launched ranks with `plan` (TESSERA_PLAN). */
export function runJob<T>(
  script: string,
  args: string[],
  nproc: number,
  plan: object | null,
  extraEnv: NodeJS.ProcessEnv = {},
): JobResult<T> {
  const env = cleanEnv({ ...extraEnv, TESSERA_NPROC: String(nproc), ...(plan === null ? {} : { TESSERA_PLAN: JSON.stringify(plan) }) });
  const r = spawnSync(process.execPath, ["--import", "tsx", script, ...args], { env, encoding: "utf8", timeout: 240_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, reports: reports<T>(r.stdout) };
}

/** The script on `nodes` × `perNode` ranks: one `tessera run` per node, all on this machine. */
export async function runNodes<T>(script: string, args: string[], nodes: number, perNode: number, plan: object): Promise<JobResult<T>> {
  const port = String(await freePort());
  const token = randomBytes(32).toString("hex");
  const runs = Array.from(
    { length: nodes },
    (_, node) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(
          process.execPath,
          [
            tessera,
            "run",
            "--nnodes",
            String(nodes),
            "--node-rank",
            String(node),
            "--nproc-per-node",
            String(perNode),
            "--master-addr",
            "127.0.0.1",
            "--master-port",
            port,
            "--plan",
            JSON.stringify(plan),
            script,
            ...args,
          ],
          { env: cleanEnv({ TESSERA_JOB_TOKEN: token }) },
        );
        let out = "";
        let err = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        child.stderr.on("data", (d: Buffer) => (err += d.toString()));
        child.on("close", (code) => resolve({ code, out, err }));
      }),
  );
  const done = await Promise.all(runs);
  const stdout = done.map((d) => d.out).join("\n");
  return {
    status: done.every((d) => d.code === 0) ? 0 : 1,
    stdout,
    stderr: done.map((d) => d.err).join("\n"),
    reports: reports<T>(stdout),
  };
}

export function assertOk<T>(r: JobResult<T>, ranks: number, what: string): void {
  assert.equal(r.status, 0, `${what}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  assert.equal(r.reports.length, ranks, `${what}: ${r.reports.length} reports\n${r.stdout}`);
}

export function assertRelClose(actual: number[], expected: number[], rtol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  actual.forEach((a, i) => {
    const e = expected[i];
    assert.ok(Math.abs(a - e) <= rtol * Math.max(Math.abs(e), 1e-12), `${what}[${i}]: ${a} vs ${e} (rtol ${rtol})`);
  });
}
