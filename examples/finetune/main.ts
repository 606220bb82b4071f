// The main job (`npm start`): the whole tutorial on the embedded default, in one process —
// prepare the dataset, train a small Llama from random weights, then load the saved folder and generate.
import { torch } from "tessera";
import { main as prepare } from "./prepare_dataset.js";
import { main as train } from "./train.js";
import { main as inference } from "./inference.js";
import { DEFAULT_HELDOUT_DATA } from "./lib/paths.js";

const OUT = "out/finetune";
// The tiny model's matrices are too small to gain from a second intra-op thread, and on a CPU that
// other processes share, OpenMP threads spinning for each other made steps ~10× slower.
if (!torch.cuda.is_available()) torch.set_num_threads(1);
const start = performance.now();
const steps: Array<[string, () => Promise<number>]> = [
  ["prepare_dataset.ts", () => prepare(["--out", `${OUT}/dataset.pt`])],
  [
    "train.ts",
    () =>
      train([
        "--dataset",
        `${OUT}/dataset.pt`,
        "--epochs",
        "7",
        "--lr",
        "1e-3",
        "--lr-scheduler-type",
        "cosine",
        "--warmup-ratio",
        "0.05",
        "--save-model-dir",
        `${OUT}/model`,
        "--tensorboard-dir",
        `${OUT}/runs`,
      ]),
  ],
  ["inference.ts", () => inference(["--model-dir", `${OUT}/model`, "--eval-data", DEFAULT_HELDOUT_DATA])],
];
for (const [name, run] of steps) {
  console.log(`\n=== ${name} ===`);
  const code = await run();
  if (code !== 0) {
    console.error(`main job: ${name} failed (exit ${code})`);
    process.exit(code);
  }
}
console.log(
  `\nMain job done in ${((performance.now() - start) / 1000).toFixed(1)} s; the fine-tuned model is in ${OUT}/model (HF format), TensorBoard logs in ${OUT}/runs.`,
);
