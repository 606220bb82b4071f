// `tessera prepare`, step 1 of the fine-tuning tutorial (examples/finetune/prepare_dataset.ts runs it):
// tokenize a text or instruction dataset into fixed-length blocks and save it with torch.save, as a
// dict of int64 tensors {input_ids, attention_mask} of shape [examples, block_size] that Python's
// torch.load(..., weights_only=True) reads too.
//
// Examples longer than the block size are truncated (as the seed's tokenizer call does), and the log
// says how many were.
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as torch from "../torch/index.js";
import { AutoTokenizer, type PreTrainedTokenizer } from "../transformers/index.js";
import { EXIT_CODES, UsageError, existingDir, existingFile, parse, positiveInt, runMain, string } from "./script.js";

// The tutorial's embedded tokenizer and dataset (data files of the package, read at run time).
const tutorial = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "examples", "finetune");
const DEFAULT_CONFIG_DIR = join(tutorial, "config");
const DEFAULT_TRAIN_DATA = join(tutorial, "data", "train.jsonl");

/** The usage text, under the name the step was started by (the script, or `tessera prepare`). */
export const usage = (prog: string) => `usage: ${prog} [--model DIR] [--data FILE] [--block-size N] [--out FILE]

Tokenizes a dataset into blocks of N tokens (padding to N, truncating longer examples) and saves
{input_ids, attention_mask} (int64, [examples, N]) with torch.save.

options:
  --model DIR        folder with the tokenizer files (default: the embedded config, ${DEFAULT_CONFIG_DIR})
  --data FILE        .txt (one example a line) or .jsonl (objects with "text", or "prompt" and
                     "completion", which become prompt + completion + the EOS token)
                     (default: the embedded dataset, ${DEFAULT_TRAIN_DATA})
  --block-size N     tokens per example (default 24)
  --out FILE         where the .pt goes (default out/finetune/dataset.pt)
  -h, --help         this help

${EXIT_CODES}`;

export interface PreparedDataset {
  input_ids: torch.Tensor;
  attention_mask: torch.Tensor;
}

/** Reads the examples of a .txt or .jsonl file as training texts (blank lines skipped). */
export function readTexts(file: string, eos_token: string): string[] {
  const lines = readFileSync(file, "utf8").split(/\r?\n/);
  const texts: string[] = [];
  if (file.endsWith(".txt")) return lines.filter((l) => l.trim() !== "");
  if (!file.endsWith(".jsonl")) throw new UsageError(`${file}: expected a .txt or .jsonl file`);
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (e) {
      throw new UsageError(`${file}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    const r = (row ?? {}) as Record<string, unknown>;
    if (typeof r.text === "string") texts.push(r.text);
    else if (typeof r.prompt === "string" && typeof r.completion === "string") texts.push(r.prompt + r.completion + eos_token);
    else throw new UsageError(`${file}:${i + 1}: expected an object with a string "text", or strings "prompt" and "completion"`);
  });
  return texts;
}

/** Tokenizes texts into [n, block_size] blocks; `truncated` counts the examples that did not fit. */
export function prepareDataset(
  tokenizer: PreTrainedTokenizer,
  texts: string[],
  block_size: number,
): { dataset: PreparedDataset; truncated: number } {
  if (texts.length === 0) throw new UsageError("the dataset has no examples");
  const truncated = tokenizer(texts).input_ids.filter((ids) => ids.length > block_size).length;
  const enc = tokenizer(texts, { padding: "max_length", truncation: true, max_length: block_size, return_tensors: "pt" });
  return { dataset: { input_ids: enc.input_ids, attention_mask: enc.attention_mask! }, truncated };
}

export interface PrepareArgs {
  model: string;
  data: string;
  block_size: number;
  out: string;
}

export function parsePrepareArgs(argv: string[], prog: string): PrepareArgs | null {
  const v = parse(
    argv,
    { model: { type: "string" }, data: { type: "string" }, "block-size": { type: "string" }, out: { type: "string" } },
    usage(prog),
  );
  if (v === null) return null;
  return {
    model: existingDir(string(v, "model", DEFAULT_CONFIG_DIR), "--model"),
    data: existingFile(string(v, "data", DEFAULT_TRAIN_DATA), "--data"),
    block_size: positiveInt(v, "block-size", 24),
    out: string(v, "out", "out/finetune/dataset.pt"),
  };
}

export function prepare(args: PrepareArgs): PreparedDataset {
  const tokenizer = AutoTokenizer.from_pretrained(args.model);
  if (tokenizer.pad_token === null) tokenizer.pad_token = tokenizer.eos_token;
  const texts = readTexts(args.data, tokenizer.eos_token ?? "");
  const { dataset, truncated } = prepareDataset(tokenizer, texts, args.block_size);
  const nonPad = dataset.attention_mask.sum().item();
  mkdirSync(dirname(args.out), { recursive: true });
  torch.save(dataset, args.out);
  console.log(`Prepared ${texts.length} examples of ${args.block_size} tokens (${nonPad} non-pad) from ${args.data} → ${args.out}`);
  if (truncated > 0)
    console.log(`  ${truncated} of ${texts.length} examples were longer than ${args.block_size} tokens and were truncated`);
  return dataset;
}

export async function main(argv: string[], prog = "tessera prepare"): Promise<number> {
  return runMain(prog, () => {
    const args = parsePrepareArgs(argv, prog);
    if (args !== null) prepare(args);
  });
}
