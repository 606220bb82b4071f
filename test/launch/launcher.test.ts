// `tessera run` as torchrun: worker environment, rank-prefixed output, fail-fast, SIGINT, two
// nodes joining as one world, a hostfile over a stand-in ssh; and the Slurm/hostfile parsers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseRunArgs } from "../../src/launch/args.js";
import { firstHostOfNodelist, parseHostfile, slurmNode } from "../../src/launch/cluster.js";
import { childNodeArgs, YOUNG_GENERATION_FLAG, youngGenerationFlags } from "../../src/launch/node_flags.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const bin = path.join(root, "bin", "tessera.mjs");
const job = path.join(here, "workers", "job.ts");

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

interface Run {
  code: number | null;
  out: string;
  err: string;
  closedAt: number;
}

function tessera(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; onOut?: (text: string, kill: (s: NodeJS.Signals) => void) => void } = {},
): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, "run", ...args], { cwd: root, env: { ...process.env, ...opts.env } });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      opts.onOut?.(out, (s) => child.kill(s));
    });
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("close", (code) => resolve({ code, out, err, closedAt: Date.now() }));
  });
}

test("two workers get torchrun's environment and prefixed output", { timeout: 60_000 }, async () => {
  const port = await freePort();
  const r = await tessera(["--nproc-per-node", "2", "--master-port", String(port), job, "allreduce"]);
  assert.equal(r.code, 0, r.err);
  for (const rank of [0, 1]) {
    assert.ok(
      r.out.includes(
        `[rank${rank}]: env RANK=${rank} LOCAL_RANK=${rank} WORLD_SIZE=2 LOCAL_WORLD_SIZE=2 GROUP_RANK=0 MASTER_ADDR=127.0.0.1 MASTER_PORT=${port}`,
      ),
      r.out,
    );
    assert.ok(r.out.includes(`[rank${rank}]: sum 3,3 of 2`), r.out);
    assert.ok(r.out.includes(`[rank${rank}]: node flags ${YOUNG_GENERATION_FLAG}`), r.out);
  }
});

test("workers start with a small young generation unless the user chose one", () => {
  assert.deepEqual(youngGenerationFlags([], ""), [YOUNG_GENERATION_FLAG]);
  assert.deepEqual(youngGenerationFlags(["--max-semi-space-size=8", "--inspect"], ""), ["--max-semi-space-size=8"]);
  assert.deepEqual(youngGenerationFlags([], "--max-old-space-size=4096 --max-semi-space-size=4"), []);
  assert.deepEqual(childNodeArgs(["--inspect", "--max-semi-space-size=8"]), ["--inspect", "--max-semi-space-size=8"]);
});

test("a failing worker brings the job down with its error and exit code", { timeout: 30_000 }, async () => {
  const r = await tessera(["--nproc-per-node", "2", "--master-port", String(await freePort()), job, "fail"]);
  assert.equal(r.code, 1);
  assert.match(r.err, /tessera run: rank 1 failed with exit code 1; stopped the others/);
  assert.match(r.err, /\[rank1\]: Error: boom on purpose/);
  assert.ok(!r.out.includes("rank 0 was not stopped"));
  const failedAt = Number(/failing at (\d+)/.exec(r.out)?.[1]);
  assert.ok(r.closedAt - failedAt < 5000, `the job took ${r.closedAt - failedAt} ms to come down after rank 1 failed`);
});

test("a worker or a single script killed by a signal is named with its signal and last error lines", { timeout: 60_000 }, async () => {
  for (const signal of ["SIGSEGV", "SIGBUS", "SIGHUP"] as const) {
    const r = await tessera(["--nproc-per-node", "2", "--master-port", String(await freePort()), job, "signal", signal]);
    assert.equal(r.code, 128 + os.constants.signals[signal], `${signal}: ${r.err}`);
    assert.match(
      r.err,
      new RegExp(
        `tessera run: rank 1 was killed by ${signal}; stopped the others\\. Its last error output:\\n  \\[rank1\\]: rank 1 about to die of ${signal}`,
      ),
    );
    assert.ok(!r.out.includes("rank 0 was not stopped"));
  }
  const single = await tessera([job, "signal", "SIGSEGV"]);
  assert.equal(single.code, 139, single.err);
  assert.match(single.err, /tessera run: the script was killed by SIGSEGV\. Its last error output:\n  rank - about to die of SIGSEGV/);
  // A script that fails with an exit code has said why itself: the launcher adds nothing.
  const failed = await tessera([job, "fail-single"]);
  assert.equal(failed.code, 3);
  assert.doesNotMatch(failed.err, /tessera run:/);
});

test(
  "a rank stopped by SIGSTOP is killed after --stall-timeout, failing the job long before the collective timeout",
  { timeout: 60_000 },
  async () => {
    let sent = false;
    const r = await tessera(["--nproc-per-node", "2", "--master-port", String(await freePort()), "--stall-timeout", "1", job, "hang"], {
      onOut: (text) => {
        const pid = /\[rank1\]: ready pid=(\d+)/.exec(text)?.[1];
        if (!sent && pid !== undefined && text.includes("[rank0]: ready pid=")) {
          sent = true;
          process.kill(Number(pid), "SIGSTOP");
        }
      },
    });
    assert.equal(r.code, 137, r.err);
    assert.match(r.err, /tessera run: rank 1 has been stopped \(SIGSTOP or a debugger\) for \d+ s \(--stall-timeout 1\); killing it/);
    assert.match(r.err, /tessera run: rank 1 was killed by SIGKILL; stopped the others/);
    assert.ok(!r.out.includes("not interrupted"));
  },
);

test("ranks started with different WORLD_SIZE are named at rendezvous, not left waiting", { timeout: 60_000 }, async () => {
  const port = String(await freePort());
  const rankRun = (rank: number, worldSize: number): Promise<{ code: number | null; err: string }> =>
    new Promise((resolve) => {
      const env = {
        ...process.env,
        RANK: String(rank),
        LOCAL_RANK: String(rank),
        WORLD_SIZE: String(worldSize),
        MASTER_ADDR: "127.0.0.1",
        MASTER_PORT: port,
      };
      const child = spawn(process.execPath, ["--import", "tsx", job, "allreduce"], { cwd: root, env });
      let err = "";
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      child.on("close", (code) => resolve({ code, err }));
    });
  const [r0, r1] = await Promise.all([rankRun(0, 2), rankRun(1, 3)]);
  assert.notEqual(r0.code, 0);
  assert.notEqual(r1.code, 0);
  assert.match(
    r0.err + r1.err,
    /rank (0 was started with world_size 2, but rank 1 with 3|1 was started with world_size 3, but rank 0 with 2) \(WORLD_SIZE must be the same on every rank\)/,
  );
});

test("SIGINT to the launcher stops every worker", { timeout: 30_000 }, async () => {
  let sent = false;
  const r = await tessera(["--nproc-per-node", "2", "--master-port", String(await freePort()), job, "hang"], {
    onOut: (text, kill) => {
      if (!sent && (text.match(/ready pid=/g) ?? []).length === 2) {
        sent = true;
        kill("SIGINT");
      }
    },
  });
  assert.equal(r.code, 130);
  assert.ok(!r.out.includes("not interrupted"));
  for (const m of r.out.matchAll(/ready pid=(\d+)/g))
    assert.throws(() => process.kill(Number(m[1]), 0), /ESRCH/, `worker ${m[1]} still alive`);
});

test("a second node's launcher joins the first as one world", { timeout: 60_000 }, async () => {
  const port = String(await freePort());
  const node = (rank: number): Promise<Run> =>
    tessera([
      "--nnodes",
      "2",
      "--node-rank",
      String(rank),
      "--nproc-per-node",
      "1",
      "--master-addr",
      "127.0.0.1",
      "--master-port",
      port,
      job,
      "allreduce",
    ]);
  const [a, b] = await Promise.all([node(0), node(1)]);
  assert.equal(a.code, 0, a.err);
  assert.equal(b.code, 0, b.err);
  assert.match(a.out, /\[rank0\]: env RANK=0 LOCAL_RANK=0 WORLD_SIZE=2 LOCAL_WORLD_SIZE=1 GROUP_RANK=0/);
  assert.match(b.out, /\[rank1\]: env RANK=1 LOCAL_RANK=0 WORLD_SIZE=2 LOCAL_WORLD_SIZE=1 GROUP_RANK=1/);
  assert.match(a.out, /\[rank0\]: sum 3,3 of 2/);
  assert.match(b.out, /\[rank1\]: sum 3,3 of 2/);
});

test("--hostfile starts one launcher per host over ssh", { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "tessera-ssh-"));
  // A stand-in ssh that runs the remote command here, logging which host it was asked for.
  writeFileSync(path.join(dir, "ssh"), `#!/bin/sh\necho "ssh to $1" >&2\nshift\nexec /bin/sh -c "$1"\n`);
  chmodSync(path.join(dir, "ssh"), 0o755);
  const hostfile = path.join(dir, "hosts");
  writeFileSync(hostfile, "# two nodes\nlocalhost slots=1\nlocalhost slots=1\n");
  const r = await tessera(["--hostfile", hostfile, "--master-port", String(await freePort()), job, "allreduce"], {
    env: { PATH: `${dir}:${process.env.PATH}` },
  });
  assert.equal(r.code, 0, r.err);
  assert.equal((r.err.match(/ssh to localhost/g) ?? []).length, 2);
  assert.match(r.out, /\[rank0\]: sum 3,3 of 2/);
  assert.match(r.out, /\[rank1\]: env RANK=1 LOCAL_RANK=0 WORLD_SIZE=2 LOCAL_WORLD_SIZE=1 GROUP_RANK=1 MASTER_ADDR=localhost/);
});

test("flags, Slurm variables and hostfiles parse as torchrun's do", () => {
  const a = parseRunArgs([
    "--nproc_per_node=4",
    "--nnodes",
    "2",
    "--node-rank=1",
    "--master-addr",
    "h0",
    "--master_port",
    "1234",
    "train.ts",
    "--lr",
    "3",
  ]);
  assert.deepEqual(a, {
    nprocPerNode: "4",
    nnodes: 2,
    nodeRank: 1,
    masterAddr: "h0",
    masterPort: 1234,
    hostfile: null,
    maxRestarts: 0,
    collectiveTimeout: null,
    stallTimeout: null,
    standalone: false,
    runId: null,
    script: "train.ts",
    scriptArgs: ["--lr", "3"],
  });
  const r = parseRunArgs(["--max_restarts", "3", "--collective-timeout=60", "--stall_timeout", "5", "x.ts"]);
  assert.deepEqual([r.maxRestarts, r.collectiveTimeout, r.stallTimeout], [3, 60, 5]);
  assert.throws(() => parseRunArgs(["--max-restarts", "-1", "x.ts"]), /--max-restarts must be an integer >= 0, got '-1'/);
  assert.throws(() => parseRunArgs(["--collective-timeout", "0", "x.ts"]), /--collective-timeout must be an integer >= 1, got '0'/);
  assert.throws(() => parseRunArgs(["--nprocs", "2", "x.ts"]), /unknown option '--nprocs'/);
  assert.throws(() => parseRunArgs(["--nnodes", "0", "x.ts"]), /--nnodes must be an integer >= 1, got '0'/);
  assert.throws(() => parseRunArgs(["--nnodes", "2"]), /no script given/);
  assert.equal(firstHostOfNodelist("gpu[03-05,09],login1"), "gpu03");
  assert.equal(firstHostOfNodelist("node7,node8"), "node7");
  assert.deepEqual(slurmNode({ SLURM_NNODES: "3", SLURM_NODEID: "2", SLURM_JOB_NODELIST: "a[10-12]", PATH: "/nonexistent" }), {
    nnodes: 3,
    nodeRank: 2,
    masterAddr: "a10",
  });
  assert.equal(slurmNode({}), null);
  const dir = mkdtempSync(path.join(os.tmpdir(), "tessera-hosts-"));
  writeFileSync(path.join(dir, "h"), "n1 slots=8\n\nn2 slots=8 # comment\n");
  assert.deepEqual(parseHostfile(path.join(dir, "h")), [
    { host: "n1", slots: 8 },
    { host: "n2", slots: 8 },
  ]);
  writeFileSync(path.join(dir, "bad"), "n1 gpus=8\n");
  assert.throws(() => parseHostfile(path.join(dir, "bad")), /bad:1: expected 'host slots=N', got 'n1 gpus=8'/);
});
