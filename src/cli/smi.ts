// `tessera smi`: each device with its memory and utilization and the processes on it, like
// nvidia-smi / moreh-smi. GPUs come from nvidia-smi when it is installed; the CPU is always shown.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";

const USAGE = `usage: tessera smi [--json]

Lists every device: name, memory used/total, utilization, and the processes on it.
Exit codes: 0 listed, 2 bad usage.`;

export interface DeviceRow {
  index: string;
  name: string;
  memory_used_bytes: number;
  memory_total_bytes: number;
  utilization_percent: number | null;
  processes: { pid: number; name: string; memory_bytes: number | null }[];
}

const MiB = 1024 * 1024;

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
      .map(([, pid, pname, mem]) => ({ pid: Number(pid), name: pname, memory_bytes: Number.isFinite(Number(mem)) ? Number(mem) * MiB : null })),
  }));
}

// Busy fraction of all CPUs over a short window, from /proc/stat (null where it is unavailable).
function cpuUtilization(): number | null {
  const read = () => {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = line[3] + (line[4] ?? 0);
    return { idle, total: line.reduce((a, b) => a + b, 0) };
  };
  try {
    const a = read();
    const until = Date.now() + 200;
    while (Date.now() < until);
    const b = read();
    const total = b.total - a.total;
    return total > 0 ? Math.round((100 * (total - (b.idle - a.idle))) / total) : null;
  } catch {
    return null;
  }
}

// tessera processes (node running a tessera script) — what is using the CPU "device".
function tesseraProcesses(): DeviceRow["processes"] {
  try {
    const out = execFileSync("ps", ["-eo", "pid=,rss=,args="], { encoding: "utf8", timeout: 5_000 });
    return out
      .split("\n")
      .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null && /(^|\/)node$/.test(m[3].split(" ")[0]) && /tessera|tsx/.test(m[3]))
      .filter((m) => Number(m[1]) !== process.pid)
      .map((m) => ({ pid: Number(m[1]), name: m[3].slice(0, 60), memory_bytes: Number(m[2]) * 1024 }));
  } catch {
    return [];
  }
}

export function cpuRow(): DeviceRow {
  const cpus = os.cpus();
  return {
    index: "cpu",
    name: `${cpus[0]?.model.trim() ?? "CPU"} (${cpus.length} cores)`,
    memory_used_bytes: os.totalmem() - os.freemem(),
    memory_total_bytes: os.totalmem(),
    utilization_percent: cpuUtilization(),
    processes: tesseraProcesses(),
  };
}

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

export function formatTable(rows: DeviceRow[]): string {
  const lines = [
    `${"device".padEnd(8)} ${"name".padEnd(44)} ${"memory used / total".padEnd(22)} util`,
    "-".repeat(84),
  ];
  for (const r of rows) {
    const mem = `${gib(r.memory_used_bytes)} / ${gib(r.memory_total_bytes)}`;
    const util = r.utilization_percent === null ? "n/a" : `${r.utilization_percent} %`;
    lines.push(`${r.index.padEnd(8)} ${r.name.slice(0, 44).padEnd(44)} ${mem.padEnd(22)} ${util}`);
    for (const p of r.processes) {
      const mem = p.memory_bytes === null ? "" : `  ${gib(p.memory_bytes)}`;
      lines.push(`${"".padEnd(8)}   pid ${String(p.pid).padEnd(8)} ${p.name}${mem}`);
    }
  }
  return lines.join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const unknown = argv.filter((a) => a !== "--json" && a !== "--help" && a !== "-h");
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  if (unknown.length > 0) {
    console.error(`tessera smi: unknown argument '${unknown[0]}'\n\n${USAGE}`);
    return 2;
  }
  const rows = [...gpuRows(), cpuRow()];
  console.log(argv.includes("--json") ? JSON.stringify({ devices: rows }, null, 2) : formatTable(rows));
  return 0;
}
