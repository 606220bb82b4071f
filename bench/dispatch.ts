// Per-op dispatch overhead: microseconds per call for tiny ops, where the time is the binding's
// own cost (argument conversion, overload resolution, wrapping the result), beside the same loop
// in Python PyTorch (bench/dispatch.py, run in the same invocation). Not a timed test.
// Run: npm run bench   (or node --import tsx bench/dispatch.ts [rounds] [--device cuda])
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { torch } from "../src/index.js";
import { YOUNG_GENERATION_FLAG } from "../src/launch/node_flags.js";

const argv = process.argv.slice(2);
const deviceAt = argv.indexOf("--device");
const DEVICE = deviceAt >= 0 ? argv[deviceAt + 1] : "cpu";
const ROUNDS = Number(argv.find((a, i) => /^\d+$/.test(a) && argv[i - 1] !== "--device") ?? 7);
const here = path.dirname(fileURLToPath(import.meta.url));
const python = process.env.TESSERA_PYTHON ?? path.join(here, "..", ".venv", "bin", "python");

torch.set_num_threads(1);
torch.manual_seed(0);

const on = { device: DEVICE };
const a4 = torch.randn(4, on);
const b4 = torch.randn(4, on);
const a8 = torch.randn(8, 8, on);
const b8 = torch.randn(8, 8, on);
const x = torch.randn(8, 16, on);
const w1 = torch.randn(16, 32, { ...on, requires_grad: true });
const b1 = torch.zeros(32, { ...on, requires_grad: true });
const w2 = torch.randn(32, 1, { ...on, requires_grad: true });
const b2 = torch.zeros(1, { ...on, requires_grad: true });

function mlpStep(): void {
  const out = x.matmul(w1).add(b1).relu().matmul(w2).add(b2);
  out.sum().backward();
  for (const p of [w1, b1, w2, b2]) p.grad = null;
}

const cases: Record<string, [() => unknown, number]> = {
  "add 4": [() => a4.add(b4), 20000],
  "matmul 8x8": [() => a8.matmul(b8), 20000],
  "mlp fwd+bwd 16-32-1, batch 8": [mlpStep, 2000],
  // Common call shapes beyond a plain op: keyword arguments, an index, a list of tensors.
  "sum(dim=1, keepdim=True) 8x8": [() => a8.sum({ dim: 1, keepdim: true }), 20000],
  "index t[0] 8x8": [() => a8.index([0]), 20000],
  "cat([a, b]) 4": [() => torch.cat([a4, b4]), 20000],
};

// Process CPU time (user + system, all threads, V8's GC included), not wall time: the machine is
// shared, and CPU time is what this process spent. dispatch.py measures the same way.
function perIterUs(fn: () => unknown, n: number): number {
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) fn();
  if (DEVICE !== "cpu") torch.cuda.synchronize();
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / n;
}

function measure(): Record<string, number> {
  const result: Record<string, number> = {};
  for (const [name, [fn, n]] of Object.entries(cases)) {
    perIterUs(fn, n / 4); // warm-up (JIT, allocator)
    const times = Array.from({ length: ROUNDS }, () => perIterUs(fn, n)).sort((p, q) => p - q);
    result[name] = times[Math.floor(times.length / 2)];
  }
  return result;
}

function measurePython(): Record<string, number> {
  const r = spawnSync(python, [path.join(here, "dispatch.py"), String(ROUNDS), DEVICE], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`bench/dispatch.py failed (${r.status ?? r.signal}):\n${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, number>;
}

/** This file's own loops in a child node process with `nodeFlags`. */
function measureNode(nodeFlags: string[]): Record<string, number> {
  const args = [...nodeFlags, "--import", "tsx", fileURLToPath(import.meta.url), "--measure", String(ROUNDS), "--device", DEVICE];
  const r = spawnSync(process.execPath, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`bench/dispatch.ts --measure failed (${r.status ?? r.signal}):\n${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, number>;
}

if (argv.includes("--measure")) {
  console.log(JSON.stringify(measure()));
} else {
  // Each configuration in a fresh process: as `tessera run` starts scripts (src/launch/node_flags.ts)
  // and with node's defaults, which a plain `node script.ts` gets.
  const py = measurePython();
  const launched = measureNode([YOUNG_GENERATION_FLAG]);
  const plain = measureNode([]);
  console.log(
    `machine: ${cpus().length}-core CPU (${cpus()[0]?.model.trim()}), node ${process.version}, torch ${torch.version.__version__}, device ${DEVICE}; ` +
      `process CPU time, 1 intra-op thread in both; median of ${ROUNDS} rounds after a warm-up\n`,
  );
  console.log(
    `| case | tessera µs, \`tessera run\` (${YOUNG_GENERATION_FLAG}) | tessera µs, node defaults | Python PyTorch µs | ratio, \`tessera run\` | ratio, node defaults |`,
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const name of Object.keys(cases)) {
    const [a, b, p] = [launched[name], plain[name], py[name]];
    console.log(`| ${name} | ${a.toFixed(2)} | ${b.toFixed(2)} | ${p.toFixed(2)} | ${(a / p).toFixed(2)} | ${(b / p).toFixed(2)} |`);
  }
  console.log("\nratio: tessera / Python (< 1: tessera faster)");
}
