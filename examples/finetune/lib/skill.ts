// The embedded task's skill: exact match of greedy generations on held-out prompts.
import { readFileSync } from "node:fs";
import { torch } from "tessera";
import { generate, type GenerativeModel, type PreTrainedTokenizer } from "tessera/transformers";
import { UsageError } from "./cli.js";

export type Example = { prompt: string; completion: string };

export function readExamples(file: string): Example[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .flatMap((line, i) => {
      if (line.trim() === "") return [];
      const row = JSON.parse(line) as Partial<Example>;
      if (typeof row.prompt !== "string" || typeof row.completion !== "string")
        throw new UsageError(`${file}:${i + 1}: expected "prompt" and "completion" strings`);
      return [row as Example];
    });
}

/** Greedy completions of prompts, batched with left padding (decoder-only models continue on the right). */
export function complete(
  model: GenerativeModel,
  tokenizer: PreTrainedTokenizer,
  prompts: string[],
  device: torch.device,
  max_new_tokens: number,
  batch_size = 50,
): string[] {
  const side = tokenizer.padding_side;
  tokenizer.padding_side = "left";
  try {
    const out: string[] = [];
    for (let i = 0; i < prompts.length; i += batch_size) {
      const enc = tokenizer(prompts.slice(i, i + batch_size), { padding: true, return_tensors: "pt" });
      const ids = generate(model, enc.input_ids.to(device), {
        attention_mask: enc.attention_mask!.to(device),
        max_new_tokens,
        do_sample: false,
      });
      out.push(
        ...tokenizer.batch_decode(ids.narrow(1, enc.input_ids.shape[1], ids.shape[1] - enc.input_ids.shape[1]).cpu(), {
          skip_special_tokens: true,
        }),
      );
    }
    return out;
  } finally {
    tokenizer.padding_side = side;
  }
}

export interface Skill {
  /** Fraction of prompts answered exactly, overall and per task (the prompt's first word). */
  exact_match: number;
  by_task: Record<string, number>;
  samples: Array<Example & { output: string }>;
}

export function measureSkill(model: GenerativeModel, tokenizer: PreTrainedTokenizer, examples: Example[], device: torch.device): Skill {
  const longest = Math.max(...examples.map((e) => tokenizer.encode(e.completion, { add_special_tokens: false }).length));
  const outputs = complete(
    model,
    tokenizer,
    examples.map((e) => e.prompt),
    device,
    longest + 1,
  );
  const tally: Record<string, [number, number]> = {};
  let right = 0;
  examples.forEach((e, i) => {
    const task = e.prompt.split(/[:\s]/)[0]!;
    const t = (tally[task] ??= [0, 0]);
    t[1]++;
    if (outputs[i] === e.completion) {
      t[0]++;
      right++;
    }
  });
  const by_task = Object.fromEntries(Object.entries(tally).map(([k, [r, n]]) => [k, r / n]));
  return { exact_match: right / examples.length, by_task, samples: examples.map((e, i) => ({ ...e, output: outputs[i]! })) };
}

export function formatSkill(s: Skill): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  return `exact match ${pct(s.exact_match)} (${Object.entries(s.by_task)
    .map(([k, v]) => `${k} ${pct(v)}`)
    .join(", ")})`;
}
