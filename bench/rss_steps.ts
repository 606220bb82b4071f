// RSS over a training loop: the Llama step of bench/train_step.ts, written as a PyTorch user writes
// it — no scopes, no dispose, no await — plus `loss.item()` and a `tolist()` each step, beside the
// same loop in Python PyTorch + HF transformers (bench/rss_steps.py), both started by this
// invocation at the same time. RSS is sampled every `--every` steps; growth is measured from the
// end of the warm-up (the first 10 % of steps) to the end. Not a timed test.
// Run: node --import tsx bench/rss_steps.ts --size small --steps 2000 [--every 50] [--threads 1]
import { spawn } from "node:child_process";
import { cpus } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { torch } from "../src/index.js";
import { LlamaConfig, LlamaForCausalLM } from "../src/transformers/index.js";
import { measureSelfArgs } from "./_measure_self.js";
import { SIZES, type Size } from "./llama_sizes.js";

const argv = process.argv.slice(2);
const flag = (name: string, dflt: string): string => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const SIZE = flag("--size", "small");
const STEPS = Number(flag("--steps", "2000"));
const EVERY = Number(flag("--every", String(Math.max(1, STEPS / 40))));
const THREADS = Number(flag("--threads", "1"));
const here = path.dirname(fileURLToPath(import.meta.url));
const python = process.env.TESSERA_PYTHON ?? path.join(here, "..", ".venv", "bin", "python");

function loop(size: Size): { rss: number[] } {
  torch.set_num_threads(THREADS);
  torch.manual_seed(0);
  const model = LlamaForCausalLM.from_config(new LlamaConfig({ ...size.config, use_cache: false }));
  model.train();
  const opt = new torch.optim.AdamW(model.parameters(), { lr: 1e-4 });
  const ids = torch.randint(0, size.config.vocab_size, [size.batch, size.seq]);
  const rss: number[] = [];
  for (let i = 1; i <= STEPS; i++) {
    const out = model(ids, { labels: ids });
    out.loss!.backward();
    opt.step();
    model.zero_grad({ set_to_none: true });
    out.loss!.item();
    out.logits.index([":", -1]).argmax(-1).tolist();
    if (i % EVERY === 0) {
      rss.push(process.memoryUsage.rss() / 2 ** 20);
      process.stderr.write(`tessera step ${i}: RSS ${rss.at(-1)!.toFixed(0)} MiB\n`); // progress, for a run cut short
    }
  }
  return { rss };
}

function run(cmd: string, args: string[]): Promise<{ rss: number[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
      process.stderr.write(d);
    });
    child.on("close", (code) =>
      code === 0
        ? resolve(JSON.parse(out.trim().split("\n").at(-1)!) as { rss: number[] })
        : reject(new Error(`${cmd} failed (${code}):\n${err}`)),
    );
  });
}

function summary(rss: number[]): string {
  const start = Math.ceil(rss.length / 10) - 1;
  const base = rss[start];
  const max = Math.max(...rss.slice(start));
  const end = rss[rss.length - 1];
  return `${base.toFixed(0)} | ${end.toFixed(0)} | ${max.toFixed(0)} | ${(((max - base) / base) * 100).toFixed(1)} %`;
}

if (argv.includes("--measure")) {
  console.log(JSON.stringify(loop(SIZES[SIZE])));
} else {
  const size = SIZES[SIZE];
  const [ts, py] = await Promise.all([
    run(
      process.execPath,
      measureSelfArgs(import.meta.url, "--size", SIZE, "--steps", String(STEPS), "--every", String(EVERY), "--threads", String(THREADS)),
    ),
    run(python, [path.join(here, "rss_steps.py"), JSON.stringify(size), String(STEPS), String(EVERY), String(THREADS)]),
  ]);
  console.log(
    `machine: ${cpus().length}-core CPU (${cpus()[0]?.model.trim()}), node ${process.version}, torch ${torch.version.__version__}; size ${SIZE}, ${STEPS} steps, ${THREADS} thread(s), RSS every ${EVERY} steps\n`,
  );
  console.log("| side | RSS MiB after warm-up (10 %) | at the end | max after warm-up | growth (max vs after warm-up) |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  console.log(`| tessera | ${summary(ts.rss)} |`);
  console.log(`| Python | ${summary(py.rss)} |`);
  console.log(
    `\ntessera RSS samples: ${ts.rss.map((r) => r.toFixed(0)).join(" ")}\nPython RSS samples: ${py.rss.map((r) => r.toFixed(0)).join(" ")}`,
  );
}
