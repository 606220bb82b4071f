// `tessera smi`: the devices of this job, like moreh-smi: one aggregate line for the job's devices
// (its "virtual device": memory used / total, utilization), then one line per device and one per
// rank. A job's ranks are the current user's processes that `tessera run` (or the one line's
// self-launch) started — RANK/WORLD_SIZE in their environment, or tessera's resolve hook on their
// command line — grouped by job id: TORCHELASTIC_RUN_ID (--rdzv-id), else the job's rendezvous
// address. Other users' processes and other jobs are not shown (--job picks one). Utilization
// comes from the OS's counters (/proc/stat, /proc/<pid>/stat, nvidia-smi) read twice across a
// short sleep: nothing spins. GPUs come from nvidia-smi when it is installed.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import { setTimeout as sleep } from "node:timers/promises";

const USAGE = `usage: tessera smi [--job ID] [--json]

Shows this job's devices: an aggregate line (memory used / total and utilization of all the job's
devices), then each device and each rank (pid, rank, CPU %, resident memory). A job is the current
user's ranks under one launcher: inside a job, that job; otherwise every job of the user.
  --job ID   only the job with this id (tessera run --rdzv-id ID; else the MASTER_ADDR:MASTER_PORT shown)
  --json     the same as JSON
Exit codes: 0 listed, 1 no such job, 2 bad usage.`;

export interface DeviceRow {
  index: string;
  name: string;
  memory_used_bytes: number;
  memory_total_bytes: number;
  utilization_percent: number | null;
  processes: { pid: number; name: string; memory_bytes: number | null }[];
}

export interface RankRow {
  pid: number;
  rank: number;
  local_rank: number;
  /** CPU time over the sampling window, in % of one core. */
  cpu_percent: number | null;
  rss_bytes: number;
}

export interface JobView {
  job: string;
  ranks: RankRow[];
  /** The job's devices as one: memory summed, utilization averaged. */
  aggregate: DeviceRow;
  devices: DeviceRow[];
}

const MiB = 1024 * 1024;
const SAMPLE_MS = 250;
const CLK_TCK = 100;

function nvidiaSmi(args: string[]): string | null {
  try {
    return execFileSync("nvidia-smi", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 10_000 });
  } catch {
    return null;
  }
}

function csv(text: string): string[][] {
  return text
    .trim()
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => l.split(",").map((c) => c.trim()));
}

export function gpuRows(): DeviceRow[] {
  const gpus = nvidiaSmi(["--query-gpu=index,uuid,name,memory.used,memory.total,utilization.gpu", "--format=csv,noheader,nounits"]);
  if (gpus === null) return [];
  const apps = nvidiaSmi(["--query-compute-apps=gpu_uuid,pid,process_name,used_memory", "--format=csv,noheader,nounits"]) ?? "";
  const procs = csv(apps);
  return csv(gpus).map(([index, uuid, name, used, total, util]) => ({
    index: `cuda:${index}`,
    name,
    memory_used_bytes: Number(used) * MiB,
    memory_total_bytes: Number(total) * MiB,
    utilization_percent: Number.isFinite(Number(util)) ? Number(util) : null,
    processes: procs
      .filter((p) => p[0] === uuid)
      .map(([, pid, pname, mem]) => ({
        pid: Number(pid),
        name: pname,
        memory_bytes: Number.isFinite(Number(mem)) ? Number(mem) * MiB : null,
      })),
  }));
}

// ---- the OS's counters ------------------------------------------------------------------------

interface CpuTimes {
  busy: number;
  total: number;
}

function systemCpuTimes(): CpuTimes | null {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    return { busy: total - f[3] - (f[4] ?? 0), total };
  } catch {
    return null;
  }
}

/** utime + stime of `pid` in clock ticks, or null when it is gone. */
function processTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]);
  } catch {
    return null;
  }
}

function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m === null ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}

// ---- the jobs' ranks --------------------------------------------------------------------------

interface RankProcess {
  pid: number;
  job: string;
  rank: number;
  local_rank: number;
}

function environOf(pid: number): Map<string, string> | null {
  try {
    const entries = readFileSync(`/proc/${pid}/environ`, "utf8")
      .split("\0")
      .filter((e) => e.includes("="));
    return new Map(entries.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
  } catch {
    return null;
  }
}

/** The job id of a process with environment `env` (pid: a lone process's own). */
export function jobIdOf(env: ReadonlyMap<string, string> | NodeJS.ProcessEnv, pid: number): string {
  const get = (k: string): string | undefined => (env instanceof Map ? env.get(k) : (env as NodeJS.ProcessEnv)[k]);
  const runId = get("TORCHELASTIC_RUN_ID");
  if (runId !== undefined && runId !== "none") return runId;
  const addr = get("MASTER_ADDR");
  const port = get("MASTER_PORT");
  return addr !== undefined && port !== undefined ? `${addr}:${port}` : `pid:${pid}`;
}

/** The current user's tessera ranks (Linux /proc; none elsewhere). */
export function rankProcesses(): RankProcess[] {
  const uid = os.userInfo().uid;
  let pids: number[];
  try {
    pids = readdirSync("/proc")
      .filter((d) => /^\d+$/.test(d))
      .map(Number);
  } catch {
    return [];
  }
  const out: RankProcess[] = [];
  for (const pid of pids) {
    if (pid === process.pid) continue;
    try {
      if (statSync(`/proc/${pid}`).uid !== uid) continue;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      if (!/(^|\/)node$/.test(cmd[0])) continue;
      const env = environOf(pid);
      if (env === null) continue;
      const launched = env.has("RANK") && env.has("WORLD_SIZE");
      if (!launched && !cmd.some((a) => a.endsWith("tessera_resolve.mjs"))) continue;
      out.push({ pid, job: jobIdOf(env, pid), rank: Number(env.get("RANK") ?? 0), local_rank: Number(env.get("LOCAL_RANK") ?? 0) });
    } catch {
      continue; // the process ended while being read
    }
  }
  return out.sort((a, b) => (a.job < b.job ? -1 : a.job > b.job ? 1 : a.rank - b.rank));
}

// ---- the view ---------------------------------------------------------------------------------

function aggregate(job: string, devices: DeviceRow[], ranks: number): DeviceRow {
  const utils = devices.map((d) => d.utilization_percent).filter((u): u is number => u !== null);
  return {
    index: "job",
    name: `${job}: ${ranks} rank${ranks === 1 ? "" : "s"} on ${devices.length} device${devices.length === 1 ? "" : "s"}`,
    memory_used_bytes: devices.reduce((a, d) => a + d.memory_used_bytes, 0),
    memory_total_bytes: devices.reduce((a, d) => a + d.memory_total_bytes, 0),
    utilization_percent: utils.length === 0 ? null : Math.round(utils.reduce((a, b) => a + b, 0) / utils.length),
    processes: [],
  };
}

/** The jobs' views: counters read, a sleep, read again. `job`: only that one. */
export async function jobViews(job: string | null = null, sampleMs = SAMPLE_MS): Promise<JobView[]> {
  const procs = rankProcesses().filter((p) => job === null || p.job === job);
  const sys0 = systemCpuTimes();
  const ticks0 = new Map(procs.map((p) => [p.pid, processTicks(p.pid)]));
  const t0 = process.hrtime.bigint();
  await sleep(sampleMs);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const sys1 = systemCpuTimes();
  const cpuUtil =
    sys0 !== null && sys1 !== null && sys1.total > sys0.total
      ? Math.round((100 * (sys1.busy - sys0.busy)) / (sys1.total - sys0.total))
      : null;
  const gpus = gpuRows();
  const cpus = os.cpus();
  const jobs = [...new Set(procs.map((p) => p.job))];
  return jobs.map((id) => {
    const mine = procs.filter((p) => p.job === id);
    const ranks: RankRow[] = mine.map((p) => {
      const [a, b] = [ticks0.get(p.pid) ?? null, processTicks(p.pid)];
      return {
        pid: p.pid,
        rank: p.rank,
        local_rank: p.local_rank,
        cpu_percent: a === null || b === null ? null : Math.round((100 * (b - a)) / CLK_TCK / seconds),
        rss_bytes: rssBytes(p.pid),
      };
    });
    const pids = new Set(ranks.map((r) => r.pid));
    const jobGpus = gpus
      .filter((g) => g.processes.some((p) => pids.has(p.pid)))
      .map((g) => ({ ...g, processes: g.processes.filter((p) => pids.has(p.pid)) }));
    const devices: DeviceRow[] =
      jobGpus.length > 0
        ? jobGpus
        : [
            {
              index: "cpu",
              name: `${cpus[0]?.model.trim() ?? "CPU"} (${cpus.length} cores)`,
              memory_used_bytes: os.totalmem() - os.freemem(),
              memory_total_bytes: os.totalmem(),
              utilization_percent: cpuUtil,
              processes: ranks.map((r) => ({ pid: r.pid, name: `rank ${r.rank}`, memory_bytes: r.rss_bytes })),
            },
          ];
    return { job: id, ranks, aggregate: aggregate(id, devices, ranks.length), devices };
  });
}

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

function deviceLine(r: DeviceRow): string {
  const mem = `${gib(r.memory_used_bytes)} / ${gib(r.memory_total_bytes)}`;
  const util = r.utilization_percent === null ? "n/a" : `${r.utilization_percent} %`;
  return `${r.index.padEnd(8)} ${r.name.slice(0, 44).padEnd(44)} ${mem.padEnd(22)} ${util}`;
}

export function formatJobs(views: JobView[]): string {
  const lines = [`${"device".padEnd(8)} ${"name".padEnd(44)} ${"memory used / total".padEnd(22)} util`, "-".repeat(84)];
  for (const v of views) {
    lines.push(deviceLine(v.aggregate));
    for (const d of v.devices) lines.push(`  ${deviceLine(d)}`);
    for (const r of v.ranks) {
      const cpu = r.cpu_percent === null ? "n/a" : `${r.cpu_percent} % cpu`;
      lines.push(`${"".padEnd(10)} rank ${String(r.rank).padEnd(4)} pid ${String(r.pid).padEnd(8)} ${gib(r.rss_bytes).padEnd(10)} ${cpu}`);
    }
  }
  return lines.join("\n");
}

export async function main(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  let job: string | null = null;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--json") json = true;
    else if (argv[i] === "--job" && i + 1 < argv.length) job = argv[++i];
    else if (argv[i].startsWith("--job=")) job = argv[i].slice("--job=".length);
    else {
      console.error(`tessera smi: ${argv[i] === "--job" ? "--job needs an id" : `unknown argument '${argv[i]}'`}\n\n${USAGE}`);
      return 2;
    }
  }
  // Inside a job (a script calling `tessera smi`), that job.
  if (job === null && process.env.RANK !== undefined) job = jobIdOf(process.env, process.pid);
  const views = await jobViews(job);
  if (job !== null && views.length === 0) {
    console.error(`tessera smi: no job '${job}' among this user's tessera processes`);
    return 1;
  }
  console.log(
    json ? JSON.stringify({ jobs: views }, null, 2) : views.length === 0 ? "no tessera job of this user is running" : formatJobs(views),
  );
  return 0;
}
