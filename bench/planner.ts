// Planner search time: the full search (every valid plan, with its dominance prunes) for clusters up
// to 4,096 GPUs. Prints a markdown table for bench/RESULTS.md. Run: node --import tsx bench/planner.ts
import { cpus } from "node:os";
import { makeProblem, megatronGpt, modelPreset, plan, type ModelProfile } from "../src/parallel/planner/index.js";

const REPEATS = 7;

const cases: Array<{ model: ModelProfile; gpus: number; seqLen: number; globalBatch: number }> = [
  { model: modelPreset("baichuan2-13b"), gpus: 4096, seqLen: 2048, globalBatch: 4096 },
  { model: modelPreset("llama-2-7b"), gpus: 4096, seqLen: 4096, globalBatch: 8192 },
  { model: modelPreset("llama-3-70b"), gpus: 4096, seqLen: 4096, globalBatch: 4096 },
  { model: megatronGpt({ layers: 128, hidden: 25600, heads: 160, vocab: 51200, seq: 2048 }), gpus: 4096, seqLen: 2048, globalBatch: 3072 },
  { model: megatronGpt({ layers: 96, hidden: 12288, heads: 96, vocab: 51200, seq: 2048 }), gpus: 3072, seqLen: 2048, globalBatch: 1536 },
  { model: modelPreset("llama-2-13b"), gpus: 512, seqLen: 4096, globalBatch: 1024 },
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

console.log(
  `machine: ${cpus().length}-core CPU (${cpus()[0]?.model.trim()}), node ${process.version}; median of ${REPEATS} runs after a warm-up\n`,
);
console.log("| model | GPUs | seq | global batch | plans evaluated | search ms (median) | max ms | chosen plan |");
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
for (const c of cases) {
  const problem = makeProblem(c.model, c.gpus, { gpusPerNode: 8, seqLen: c.seqLen, globalBatch: c.globalBatch });
  let last = plan(problem);
  const times: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    last = plan(problem);
    times.push(last.searchMs);
  }
  const p = last.best?.plan;
  const chosen =
    p === undefined
      ? "does not fit"
      : `dp=${p.dp} tp=${p.tp} pp=${p.pp}×${p.vpp} mbs=${p.microBatch} zero=${p.zero} recompute=${p.recompute}`;
  console.log(
    `| ${c.model.name} | ${c.gpus} | ${c.seqLen} | ${c.globalBatch} | ${last.evaluated} | ${median(times).toFixed(1)} | ${Math.max(...times).toFixed(1)} | ${chosen} |`,
  );
}
