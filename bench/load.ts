// from_pretrained of a ~400 MB safetensors Llama checkpoint (written on the fly by HF's
// save_pretrained into a temporary folder), beside HF transformers' from_pretrained of the same
// folder (bench/load.py); rounds interleave the sides, each in a fresh process. Reported: load wall
// and CPU time, the first forward after it (when a mapped checkpoint's pages are read), and the
// process's peak RSS. Not a timed test.
// Run: node --import tsx bench/load.ts [rounds]
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { torch } from "../src/index.js";
import { AutoModelForCausalLM } from "../src/transformers/index.js";
import { measureSelfArgs } from "./_measure_self.js";

// 104 M float32 parameters: 416 MB.
const CONFIG = {
  vocab_size: 32000,
  hidden_size: 1024,
  intermediate_size: 2816,
  num_hidden_layers: 3,
  num_attention_heads: 16,
  num_key_value_heads: 16,
  tie_word_embeddings: false,
};
const argv = process.argv.slice(2);
const ROUNDS = Number(argv.find((a) => /^\d+$/.test(a)) ?? 3);
const here = path.dirname(fileURLToPath(import.meta.url));
const python = process.env.TESSERA_PYTHON ?? path.join(here, "..", ".venv", "bin", "python");
const KEYS = ["load_s", "load_cpu_s", "first_forward_s", "peak_rss_mib"] as const;
type Result = Record<(typeof KEYS)[number], number>;

function measure(dir: string): Result {
  torch.set_num_threads(1);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const model = AutoModelForCausalLM.from_pretrained(dir);
  const t1 = performance.now();
  const c = process.cpuUsage(c0);
  torch.no_grad(() => model.forward(torch.zeros([1, 8], { dtype: torch.int64 })));
  const t2 = performance.now();
  return {
    load_s: (t1 - t0) / 1e3,
    load_cpu_s: (c.user + c.system) / 1e6,
    first_forward_s: (t2 - t1) / 1e3,
    peak_rss_mib: process.resourceUsage().maxRSS / 1024,
  };
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}):\n${r.stderr}`);
  return r.stdout;
}

const result = (stdout: string): Result => JSON.parse(stdout.trim().split("\n").at(-1)!) as Result;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

if (argv[0] === "--measure") {
  console.log(JSON.stringify(measure(argv[1])));
} else {
  const dir = mkdtempSync(path.join(tmpdir(), "tessera-load-bench-"));
  try {
    run(python, [path.join(here, "load.py"), "make", dir, JSON.stringify(CONFIG)]);
    const ts: Result[] = [];
    const py: Result[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      py.push(result(run(python, [path.join(here, "load.py"), "load", dir, "1"])));
      ts.push(result(run(process.execPath, measureSelfArgs(import.meta.url, dir))));
    }
    console.log(
      `machine: ${cpus().length}-core CPU (${cpus()[0]?.model.trim()}), node ${process.version}, torch ${torch.version.__version__}; 416 MB float32 safetensors checkpoint (page cache warm after the first round); median of ${ROUNDS} interleaved rounds\n`,
    );
    console.log("| measure | tessera | HF transformers | ratio |");
    console.log("| --- | ---: | ---: | ---: |");
    for (const k of KEYS) {
      const [a, b] = [median(ts.map((x) => x[k])), median(py.map((x) => x[k]))];
      console.log(
        `| ${k} | ${a.toFixed(k === "peak_rss_mib" ? 0 : 3)} | ${b.toFixed(k === "peak_rss_mib" ? 0 : 3)} | ${(a / b).toFixed(2)} |`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
