// Where a node sits in the job: from flags, else from a Slurm allocation (as torchrun-on-Slurm
// recipes read it), and the hostfile format (`host slots=N`).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

export interface HostSlots {
  host: string;
  slots: number;
}

/** Parses a hostfile: one `host [slots=N]` a line; `#` starts a comment. */
export function parseHostfile(file: string): HostSlots[] {
  const hosts: HostSlots[] = [];
  for (const [i, raw] of readFileSync(file, "utf8").split("\n").entries()) {
    const line = raw.replace(/#.*/, "").trim();
    if (line === "") continue;
    const [host, ...rest] = line.split(/\s+/);
    let slots = 1;
    for (const field of rest) {
      const m = /^slots=(\d+)$/.exec(field);
      if (m === null) throw new Error(`${file}:${i + 1}: expected 'host slots=N', got '${raw.trim()}'`);
      slots = Number(m[1]);
    }
    if (slots < 1) throw new Error(`${file}:${i + 1}: slots must be at least 1`);
    hosts.push({ host, slots });
  }
  if (hosts.length === 0) throw new Error(`${file}: no hosts`);
  return hosts;
}

/** The first host of a Slurm nodelist like `gpu[03-05,09],login1` (without scontrol). */
export function firstHostOfNodelist(list: string): string {
  const m = /^([^,[]+)(?:\[([^\]]+)\])?/.exec(list.trim());
  if (m === null) throw new Error(`cannot parse SLURM_JOB_NODELIST '${list}'`);
  if (m[2] === undefined) return m[1];
  const first = m[2].split(",")[0].split("-")[0];
  return `${m[1]}${first}`;
}

export interface SlurmNode {
  nnodes: number;
  nodeRank: number;
  masterAddr: string;
}

/** This node's place in a Slurm job, or null outside one. */
export function slurmNode(env: NodeJS.ProcessEnv = process.env): SlurmNode | null {
  const { SLURM_NNODES, SLURM_NODEID, SLURM_JOB_NODELIST } = env;
  if (SLURM_NNODES === undefined || SLURM_NODEID === undefined || SLURM_JOB_NODELIST === undefined) return null;
  const shown = spawnSync("scontrol", ["show", "hostnames", SLURM_JOB_NODELIST], { encoding: "utf8" });
  const fromScontrol = shown.status === 0 ? shown.stdout.split("\n")[0].trim() : "";
  return {
    nnodes: Number(SLURM_NNODES),
    nodeRank: Number(SLURM_NODEID),
    masterAddr: fromScontrol !== "" ? fromScontrol : firstHostOfNodelist(SLURM_JOB_NODELIST),
  };
}
