// tessera smi shows one job's ranks (the current user's processes that tessera run starts, by job
// id), with an aggregate line first, per-rank CPU from the OS's counters, and nothing of other jobs
// or of node processes that are not ranks. The "ranks" here are idle (and one busy) node processes
// with the environment tessera run gives its workers.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import path from "node:path";
import { repoRoot } from "../helpers/oracle.js";

const children: ChildProcess[] = [];
after(() => children.forEach((c) => c.kill()));

function fakeRank(job: string | null, rank: number, busy = false): number {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ["RANK", "WORLD_SIZE", "LOCAL_RANK", "TORCHELASTIC_RUN_ID", "MASTER_ADDR", "MASTER_PORT"]) delete env[k];
  if (job !== null)
    Object.assign(env, {
      RANK: String(rank),
      LOCAL_RANK: String(rank),
      WORLD_SIZE: "2",
      TORCHELASTIC_RUN_ID: job,
      MASTER_ADDR: "127.0.0.1",
      MASTER_PORT: "1",
    });
  const child = spawn(process.execPath, ["-e", busy ? "for (;;) {}" : "setInterval(() => {}, 1000)"], { env, stdio: "ignore" });
  children.push(child);
  return child.pid!;
}

function smi(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.RANK;
  return spawnSync(process.execPath, [path.join(repoRoot, "bin/tessera.mjs"), "smi", ...args], { encoding: "utf8", env, timeout: 60_000 });
}

test("smi --job lists that job's ranks only, with an aggregate line and per-rank CPU from the OS counters", async () => {
  const a0 = fakeRank("smi-test-a", 0, true);
  const a1 = fakeRank("smi-test-a", 1);
  const b0 = fakeRank("smi-test-b", 0);
  const plain = fakeRank(null, 0);
  await new Promise((r) => setTimeout(r, 500));

  const r = smi(["--job", "smi-test-a", "--json"]);
  assert.equal(r.status, 0, r.stderr);
  const { jobs } = JSON.parse(r.stdout) as {
    jobs: {
      job: string;
      ranks: { pid: number; rank: number; cpu_percent: number | null; rss_bytes: number }[];
      aggregate: { index: string; name: string; memory_total_bytes: number; utilization_percent: number | null };
      devices: { index: string }[];
    }[];
  };
  assert.equal(jobs.length, 1);
  const [job] = jobs;
  assert.equal(job.job, "smi-test-a");
  assert.deepEqual(
    job.ranks.map((x) => [x.pid, x.rank]),
    [
      [a0, 0],
      [a1, 1],
    ],
  );
  assert.ok(job.ranks.every((x) => x.rss_bytes > 0));
  const [busy, idle] = job.ranks.map((x) => x.cpu_percent as number);
  assert.ok(busy > idle, `the spinning rank shows more CPU (${busy} %) than the idle one (${idle} %)`);
  assert.equal(job.aggregate.index, "job");
  assert.match(job.aggregate.name, /^smi-test-a: 2 ranks on 1 device$/);
  assert.deepEqual(
    job.devices.map((d) => d.index),
    ["cpu"],
  );
  assert.ok(
    job.aggregate.utilization_percent !== null && job.aggregate.utilization_percent >= 0 && job.aggregate.utilization_percent <= 100,
  );

  const all = smi(["--json"]);
  const ids = (JSON.parse(all.stdout) as { jobs: { job: string; ranks: { pid: number }[] }[] }).jobs;
  assert.ok(ids.some((j) => j.job === "smi-test-b" && j.ranks[0].pid === b0));
  assert.ok(!ids.some((j) => j.ranks.some((x) => x.pid === plain)), "a node process that is no rank is not listed");

  const table = smi(["--job", "smi-test-a"]);
  const lines = table.stdout.split("\n");
  assert.match(lines[2], /^job +smi-test-a: 2 ranks on 1 device +\d+\.\d GiB \/ \d+\.\d GiB +\d+ %$/, table.stdout);
  assert.match(lines[3], /^ {2}cpu /);
  assert.match(lines[4], new RegExp(`rank 0 +pid ${a0} `));

  const none = smi(["--job", "no-such-job"]);
  assert.equal(none.status, 1);
  assert.match(none.stderr, /no job 'no-such-job' among this user's tessera processes/);
  assert.equal(smi(["--bogus"]).status, 2);
});
