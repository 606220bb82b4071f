// Greedy `generate` with the KV cache on a small grouped-query Llama (8 query heads over 4 KV heads),
// beside HF transformers' generate on the same shapes (bench/generate.py); rounds interleave the two
// sides, each in a fresh process, in this invocation. Tokens/s is wall time over the new tokens,
// prefill included, median of each process's repeats after one warm-up. Not a timed test.
// Run: node --import tsx bench/generate.ts [rounds] [--threads N]
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { torch } from "../src/index.js";
import { LlamaConfig, LlamaForCausalLM } from "../src/transformers/index.js";
import { measureSelfArgs } from "./_measure_self.js";

const CONFIG = {
  vocab_size: 4096,
  hidden_size: 256,
  intermediate_size: 688,
  num_hidden_layers: 4,
  num_attention_heads: 8,
  num_key_value_heads: 4,
  max_position_embeddings: 512,
};
const PROMPT = 32;
const NEW = 64;
const REPEATS = 5;

const argv = process.argv.slice(2);
const threadsAt = argv.indexOf("--threads");
const THREADS = threadsAt >= 0 ? Number(argv[threadsAt + 1]) : 1;
const ROUNDS = Number(argv.find((a, i) => /^\d+$/.test(a) && argv[i - 1] !== "--threads") ?? 3);
const here = path.dirname(fileURLToPath(import.meta.url));
const python = process.env.TESSERA_PYTHON ?? path.join(here, "..", ".venv", "bin", "python");

function measure(): { tokens_per_s: number[] } {
  torch.set_num_threads(THREADS);
  torch.manual_seed(0);
  const model = LlamaForCausalLM.from_config(new LlamaConfig(CONFIG));
  model.eval();
  const ids = torch.randint(0, CONFIG.vocab_size, [1, PROMPT]);
  const rates: number[] = [];
  for (let i = 0; i <= REPEATS; i++) {
    const t0 = performance.now();
    // No eos: every run makes exactly NEW tokens, as min_new_tokens makes HF's.
    const out = model.generate(ids, {
      attention_mask: torch.ones_like(ids),
      max_new_tokens: NEW,
      do_sample: false,
      pad_token_id: 0,
      eos_token_id: [],
    });
    const dt = (performance.now() - t0) / 1e3;
    if (out.size(1) !== PROMPT + NEW) throw new Error(`generate made ${out.size(1) - PROMPT} tokens, expected ${NEW}`);
    if (i > 0) rates.push(NEW / dt);
  }
  return { tokens_per_s: rates };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function run(cmd: string, args: string[]): number {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}):\n${r.stderr}`);
  return median((JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { tokens_per_s: number[] }).tokens_per_s);
}

if (argv.includes("--measure")) {
  console.log(JSON.stringify(measure()));
} else {
  const ts: number[] = [];
  const py: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    py.push(
      run(python, [path.join(here, "generate.py"), JSON.stringify(CONFIG), String(PROMPT), String(NEW), String(REPEATS), String(THREADS)]),
    );
    ts.push(run(process.execPath, measureSelfArgs(import.meta.url, "--threads", String(THREADS))));
  }
  console.log(
    `machine: ${cpus().length}-core CPU (${cpus()[0]?.model.trim()}), node ${process.version}, torch ${torch.version.__version__}; ${THREADS} thread(s); prompt ${PROMPT}, ${NEW} new tokens, greedy, KV cache; median of ${ROUNDS} interleaved rounds\n`,
  );
  console.log("| case | tessera tokens/s | HF tokens/s | ratio |");
  console.log("| --- | ---: | ---: | ---: |");
  const [a, b] = [median(ts), median(py)];
  console.log(`| greedy generate, GQA Llama (hidden 256, 4 layers) | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(a / b).toFixed(2)} |`);
  console.log(`\nrounds: tessera ${ts.map((x) => x.toFixed(1)).join(", ")}; HF ${py.map((x) => x.toFixed(1)).join(", ")}`);
}
