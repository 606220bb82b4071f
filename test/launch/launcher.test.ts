// `tessera run` as torchrun: worker environment, rank-prefixed output, fail-fast, SIGINT, two
// nodes joining as one world, a hostfile over a stand-in ssh; and the Slurm/hostfile parsers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { TCPStore } from "../../src/torch/distributed/store.js";
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

/** The state letter of /proc/<pid>/stat (R running, S sleeping, T stopped). */
const procState = (pid: number): string => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat[stat.lastIndexOf(")") + 2];
};

test(
  "a rank spinning in JS (running, not stopped) is found by its heartbeat within --stall-timeout, named, and the job ends",
  { timeout: 60_000 },
  async () => {
    let spinningAt = 0;
    let spinner = 0;
    const states: string[] = [];
    const args = ["--nproc-per-node", "2", "--master-port", String(await freePort()), "--stall-timeout", "3", "--collective-timeout", "60"];
    const r = await tessera([...args, job, "spin"], {
      onOut: (text) => {
        const pid = /\[rank1\]: spinning pid=(\d+)/.exec(text)?.[1];
        if (pid === undefined || spinningAt !== 0) return;
        spinningAt = Date.now();
        spinner = Number(pid);
        setTimeout(() => states.push(procState(spinner)), 1000);
      },
    });
    assert.equal(r.code, 137, r.err);
    // Busy in JS: the kernel sees it running (the process-state check alone would not find it).
    assert.deepEqual(states, ["R"]);
    const silent = Number(
      /tessera run: rank 1 made no progress for ([\d.]+) s: its heartbeat stopped outside a collective/.exec(r.err)?.[1],
    );
    assert.ok(silent >= 3 && silent < 5, `silent ${silent} s at --stall-timeout 3`);
    assert.match(r.err, /\(--stall-timeout 3\); killing it/);
    assert.match(r.err, /tessera run: rank 1 was killed by SIGKILL; stopped the others/);
    // Rank 0, waiting in the all_reduce all along, is not the one named.
    assert.doesNotMatch(r.err, /rank 0 made no progress/);
    assert.ok(
      r.closedAt - spinningAt < 20_000,
      `the job ended ${r.closedAt - spinningAt} ms after the spin began (collective timeout 60 s)`,
    );
    for (const m of r.out.matchAll(/ready pid=(\d+)|spinning pid=(\d+)/g))
      assert.throws(() => process.kill(Number(m[1] ?? m[2]), 0), /ESRCH/, "a worker outlived the job");
    assert.throws(() => process.kill(spinner, 0), /ESRCH/);
  },
);

test("a slow rank that keeps beating is not taken for a stalled one, nor are the ranks waiting for it", { timeout: 90_000 }, async () => {
  // Rank 1 computes 2 s (no beat), then waits 2 s with the event loop free (the timer beats); rank 0
  // waits 4 s per step in all_reduce, longer than --stall-timeout 3.
  const r = await tessera(["--nproc-per-node", "2", "--master-port", String(await freePort()), "--stall-timeout", "3", job, "slow"]);
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(r.err, /made no progress/);
  assert.match(r.out, /\[rank0\]: step 2 sum 2/);
  assert.match(r.out, /\[rank1\]: step 2 sum 2/);
});

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

test("a second node's launcher joins the first as one world, both given the job's token", { timeout: 60_000 }, async () => {
  const port = String(await freePort());
  const token = randomBytes(32).toString("hex");
  const node = (rank: number, env: NodeJS.ProcessEnv = { TESSERA_JOB_TOKEN: token }): Promise<Run> =>
    tessera(
      [
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
      ],
      { env },
    );
  const [a, b] = await Promise.all([node(0), node(1)]);
  assert.equal(a.code, 0, a.err);
  assert.equal(b.code, 0, b.err);
  assert.match(a.out, /\[rank0\]: env RANK=0 LOCAL_RANK=0 WORLD_SIZE=2 LOCAL_WORLD_SIZE=1 GROUP_RANK=0/);
  assert.match(b.out, /\[rank1\]: env RANK=1 LOCAL_RANK=0 WORLD_SIZE=2 LOCAL_WORLD_SIZE=1 GROUP_RANK=1/);
  assert.match(a.out, /\[rank0\]: sum 3,3 of 2/);
  assert.match(b.out, /\[rank1\]: sum 3,3 of 2/);
});

test("a node launcher without a token is refused; a node with another token cannot join, and is named", { timeout: 60_000 }, async () => {
  const port = String(await freePort());
  const node = (rank: number, token: string | undefined): Promise<Run> =>
    tessera(["--nnodes", "2", "--node-rank", String(rank), "--nproc-per-node", "1", "--master-port", port, job, "allreduce"], {
      env: { TESSERA_JOB_TOKEN: token },
    });
  const none = await node(0, undefined);
  assert.equal(none.code, 2);
  assert.match(none.err, /^tessera run: a job on several nodes needs a shared secret: set TESSERA_JOB_TOKEN/);
  assert.doesNotMatch(none.out, /env RANK/, "no worker started");
  const short = await node(0, "guessable");
  assert.equal(short.code, 2);
  assert.match(short.err, /TESSERA_JOB_TOKEN: a job token is 32 to 1024 printable characters/);
  // Rank 0 reads rank 1's world-size record, sealed under the other token: refused by name, not
  // parsed. (Rank 1 fails the same way on rank 0's record, or finds the store gone when rank 0 failed first.)
  const [a, b] = await Promise.all([node(0, randomBytes(32).toString("hex")), node(1, randomBytes(32).toString("hex"))]);
  assert.notEqual(a.code, 0);
  assert.notEqual(b.code, 0);
  assert.match(a.err, /store key 'tessera\/world_size\/1': the record \(\d+ bytes\) is not sealed with this job's token/);
});

test("a client outside the job reads only sealed bytes from a running job's store, and the job goes on", { timeout: 60_000 }, async () => {
  const port = await freePort();
  const go = path.join(mkdtempSync(path.join(os.tmpdir(), "tessera-hold-")), "go");
  const seen = new Map<string, string>();
  const r = await tessera(["--nproc-per-node", "2", "--master-port", String(port), job, "hold", go], {
    onOut: (text) => {
      if (existsSync(go) || (text.match(/\]: ready/g) ?? []).length < 2) return;
      // The rendezvous records of both ranks: world sizes, and Gloo's (hostname, address, port).
      const outsider = new TCPStore("127.0.0.1", port, { is_master: false, world_size: 2, timeout: 10_000 });
      for (const key of ["tessera/world_size/0", "tessera/world_size/1", "default_pg//0/0", "default_pg//0/1"])
        seen.set(key, outsider.get(key));
      outsider.set("tessera/world_size/1", "3");
      writeFileSync(go, "");
    },
  });
  assert.equal(r.code, 0, r.err);
  assert.equal(seen.size, 4);
  for (const [key, value] of seen) {
    assert.ok(value.startsWith("TSJ1"), `${key}: ${JSON.stringify(value)}`);
    assert.ok(!value.includes(os.hostname()) && !value.includes("127.0.0.1") && value !== "2", `${key} shows its content`);
  }
  assert.match(r.out, /\[rank0\]: sum 3,3 of 2/);
});

test("--hostfile starts one launcher per host over ssh, the job's token on its standard input", { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "tessera-ssh-"));
  // A stand-in ssh that runs the remote command here, logging the host and the command it was given;
  // like ssh, it does not pass the token on in the environment.
  writeFileSync(path.join(dir, "ssh"), `#!/bin/sh\necho "ssh to $1: $2" >&2\nunset TESSERA_JOB_TOKEN\nshift\nexec /bin/sh -c "$1"\n`);
  chmodSync(path.join(dir, "ssh"), 0o755);
  const hostfile = path.join(dir, "hosts");
  writeFileSync(hostfile, "# two nodes\nlocalhost slots=1\nlocalhost slots=1\n");
  const token = randomBytes(32).toString("hex");
  const r = await tessera(["--hostfile", hostfile, "--master-port", String(await freePort()), job, "allreduce"], {
    env: { PATH: `${dir}:${process.env.PATH}`, TESSERA_JOB_TOKEN: token },
  });
  assert.equal(r.code, 0, r.err);
  assert.equal((r.err.match(/ssh to localhost: IFS= read -r TESSERA_JOB_TOKEN && export TESSERA_JOB_TOKEN && cd /g) ?? []).length, 2);
  assert.ok(!r.err.includes(token), "the token was on a command line");
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
