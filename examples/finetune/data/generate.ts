// Writes the embedded default dataset: two character-level instruction tasks whose skill is measured
// by exact match on held-out words the model never trained on. Words have a fixed length, so each
// answer character sits at a fixed distance from the character it comes from: a small model learns
// that within the few hundred steps the main job has on a CPU.
//   "reverse: lamp -> " → "pmal"      "upper: lamp -> " → "LAMP"
// Run: node --import tsx examples/finetune/data/generate.ts  (fixed seed: the output never changes)
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const TASKS = {
  reverse: (word: string) => [...word].reverse().join(""),
  upper: (word: string) => word.toUpperCase(),
} as const;

export const WORD_LENGTH = 4;

export type Example = { prompt: string; completion: string };

/** mulberry32: a tiny seeded PRNG, so the files are the same on every machine. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function example(task: keyof typeof TASKS, word: string): Example {
  return { prompt: `${task}: ${word} -> `, completion: TASKS[task](word) };
}

function generate(seed: number, trainWords: number, heldoutWords: number): { train: Example[]; heldout: Example[] } {
  const random = rng(seed);
  const letters = "abcdefghijklmnopqrstuvwxyz";
  const words = new Set<string>();
  while (words.size < trainWords + heldoutWords) {
    const length = WORD_LENGTH;
    words.add(Array.from({ length }, () => letters[Math.floor(random() * letters.length)]).join(""));
  }
  const all = [...words];
  const tasks = Object.keys(TASKS) as Array<keyof typeof TASKS>;
  // Each training word appears under every task; held-out words appear nowhere in training.
  const train = all.slice(0, trainWords).flatMap((w) => tasks.map((t) => example(t, w)));
  for (let i = train.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [train[i], train[j]] = [train[j]!, train[i]!];
  }
  const heldout = all.slice(trainWords).flatMap((w) => tasks.map((t) => example(t, w)));
  return { train, heldout };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = dirname(fileURLToPath(import.meta.url));
  const { train, heldout } = generate(1234, 1500, 50);
  const jsonl = (rows: Example[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
  writeFileSync(join(dir, "train.jsonl"), jsonl(train));
  writeFileSync(join(dir, "heldout.jsonl"), jsonl(heldout));
  console.log(`wrote ${train.length} training and ${heldout.length} held-out examples to ${dir}`);
}
