// Conversions between JS data and tensors — torch.tensor from nested arrays of numbers and
// tolist() — beside the same in Python PyTorch (bench/conversion.py, run in the same invocation).
// Not a timed test. Run: node --import tsx bench/conversion.ts [rounds]
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { torch } from "../src/index.js";

const ROUNDS = Number(process.argv[2] ?? 5);
const here = path.dirname(fileURLToPath(import.meta.url));
const python = process.env.TESSERA_PYTHON ?? path.join(here, "..", ".venv", "bin", "python");

torch.set_num_threads(1);
const flat = Array.from({ length: 1_000_000 }, (_, i) => i * 0.5);
const rows = Array.from({ length: 1000 }, (_, i) => Array.from({ length: 1000 }, (_, j) => i + j * 0.5));
const tokens = Array.from({ length: 1_000_000 }, (_, i) => i % 50_000);
const matrix = torch.randn(1000, 1000);

const cases: Record<string, () => unknown> = {
  "tensor(1e6 numbers)": () => torch.tensor(flat),
  "tensor(1000x1000 nested)": () => torch.tensor(rows),
  "tensor(1e6 token ids, int64)": () => torch.tensor(tokens, { dtype: torch.int64 }),
  "tolist(1000x1000 float32)": () => matrix.tolist(),
};

// Process CPU time (V8's GC included), median of ROUNDS after one warm-up call.
function ms(fn: () => unknown): number {
  fn();
  const times = Array.from({ length: ROUNDS }, () => {
    const t0 = process.cpuUsage();
    fn();
    const d = process.cpuUsage(t0);
    return (d.user + d.system) / 1000;
  }).sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const r = spawnSync(python, [path.join(here, "conversion.py"), String(ROUNDS)], { encoding: "utf8" });
if (r.status !== 0) throw new Error(`bench/conversion.py failed (${r.status ?? r.signal}):\n${r.stderr}`);
const py = JSON.parse(r.stdout) as Record<string, number>;
console.log(
  `machine: ${cpus().length}-core CPU (${cpus()[0]?.model.trim()}), node ${process.version}, torch ${torch.version.__version__}; process CPU time, median of ${ROUNDS}\n`,
);
console.log("| case | tessera ms | Python PyTorch ms | ratio |");
console.log("| --- | ---: | ---: | ---: |");
for (const [name, fn] of Object.entries(cases)) {
  const t = ms(fn);
  console.log(`| ${name} | ${t.toFixed(1)} | ${py[name].toFixed(1)} | ${(t / py[name]).toFixed(2)} |`);
}
console.log("\nratio: tessera / Python (< 1: tessera faster)");
