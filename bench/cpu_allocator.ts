// The caching CPU allocator against libtorch's default (native/src/cpu_caching_allocator.cc): the
// small Llama's training loop as a PyTorch user writes it (bench/rss_steps.ts's loop), in fresh
// processes that differ only in TESSERA_CPU_ALLOC_CONF, interleaved round by round. Per step:
// process CPU (user + system), system CPU, minor page faults and wall time over the steps after the
// warm-up; RSS at the end. Page faults and system time are what the allocator changes and do not
// depend on the machine's load; wall time does. Not a timed test.
// Run: node --import tsx bench/cpu_allocator.ts [rounds] [--steps 60] [--size small] [--conf "backend:native" --conf "" ...]
import { spawnSync } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { llamaTraining } from "./_llama_training.js";
import { measureSelfArgs } from "./_measure_self.js";
import { SIZES } from "./llama_sizes.js";

const argv = process.argv.slice(2);
const flag = (name: string, dflt: string): string => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const SIZE = flag("--size", "small");
const STEPS = Number(flag("--steps", "60"));
const WARMUP = Math.ceil(STEPS / 6);
const confs = argv.flatMap((a, i) => (a === "--conf" ? [argv[i + 1]] : []));
const CONFS = confs.length > 0 ? confs : ["backend:native", "backend:caching"];

interface Sample {
  cpu_ms: number;
  sys_ms: number;
  faults: number;
  wall_ms: number;
  rss_mib: number;
}

function measure(): Sample {
  const size = SIZES[SIZE];
  const { model, opt, ids } = llamaTraining(size);
  let start = { usage: process.resourceUsage(), wall: performance.now() };
  for (let i = 1; i <= STEPS; i++) {
    if (i === WARMUP + 1) start = { usage: process.resourceUsage(), wall: performance.now() };
    const out = model(ids, { labels: ids });
    out.loss!.backward();
    opt.step();
    model.zero_grad({ set_to_none: true });
    out.loss!.item();
  }
  const end = process.resourceUsage();
  const n = STEPS - WARMUP;
  const cpu = (u: NodeJS.ResourceUsage) => u.userCPUTime + u.systemCPUTime;
  return {
    cpu_ms: (cpu(end) - cpu(start.usage)) / 1000 / n,
    sys_ms: (end.systemCPUTime - start.usage.systemCPUTime) / 1000 / n,
    faults: (end.minorPageFault - start.usage.minorPageFault) / n,
    wall_ms: (performance.now() - start.wall) / n,
    rss_mib: process.memoryUsage.rss() / 2 ** 20,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

if (argv.includes("--measure")) {
  console.log(JSON.stringify(measure()));
} else {
  const rounds = Number(argv.find((a) => /^\d+$/.test(a)) ?? 3);
  const samples = new Map<string, Sample[]>(CONFS.map((c) => [c, []]));
  const loads: number[] = [loadavg()[0]];
  for (let r = 0; r < rounds; r++) {
    for (const conf of CONFS) {
      const child = spawnSync(process.execPath, measureSelfArgs(import.meta.url, "--size", SIZE, "--steps", String(STEPS)), {
        encoding: "utf8",
        env: { ...process.env, TESSERA_CPU_ALLOC_CONF: conf },
      });
      if (child.status !== 0) throw new Error(`measure (${conf}) failed:\n${child.stderr}`);
      samples.get(conf)!.push(JSON.parse(child.stdout.trim().split("\n").at(-1)!) as Sample);
      loads.push(loadavg()[0]);
    }
  }
  console.log(
    `machine: ${cpus().length}-core CPU (${cpus()[0]?.model.trim()}), node ${process.version}; size ${SIZE}, ${STEPS} steps (${WARMUP} warm-up), ${rounds} rounds; load average ${loads.map((l) => l.toFixed(1)).join(" ")}\n`,
  );
  console.log("| TESSERA_CPU_ALLOC_CONF | process CPU ms/step | system ms/step | minor faults/step | wall ms/step | RSS MiB at end |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const [conf, s] of samples) {
    const m = (k: keyof Sample) => median(s.map((x) => x[k]));
    console.log(
      `| ${conf || "(unset)"} | ${m("cpu_ms").toFixed(1)} | ${m("sys_ms").toFixed(1)} | ${m("faults").toFixed(0)} | ${m("wall_ms").toFixed(1)} | ${m("rss_mib").toFixed(0)} |`,
    );
  }
}
