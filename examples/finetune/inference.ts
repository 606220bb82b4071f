// Step 3 of the fine-tuning tutorial: load the saved HF folder and generate.
//
//   node --import tsx examples/finetune/inference.ts --model-dir out/finetune/model --prompt "reverse: hello -> "
import { torch } from "tessera";
import { ADAPTER_CONFIG_NAME, AutoModelForCausalLM, AutoTokenizer, LoraConfig, PeftModel, type CausalLM } from "tessera/transformers";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  EXIT_CODES,
  UsageError,
  asBadInput,
  existingDir,
  existingFile,
  isEntryPoint,
  parse,
  positiveInt,
  runMain,
  string,
} from "./lib/cli.js";
import { complete, formatSkill, measureSkill, readExamples } from "./lib/skill.js";

const USAGE = `usage: inference.ts [--model-dir DIR] [--prompt TEXT ...] [--eval-data FILE] [--max-new-tokens N]

Loads a fine-tuned model folder (as train.ts saves it) and completes prompts greedily.

options:
  --model-dir DIR        the saved model and tokenizer (default out/finetune/model)
  --prompt TEXT          a prompt to complete; repeat for more
                         (default: "reverse: wolf -> " and "upper: wolf -> ")
  --max-new-tokens N     tokens to generate per prompt (default 16)
  --eval-data FILE       also report exact match on a .jsonl of {prompt, completion}
  -h, --help             this help

${EXIT_CODES}`;

/** A full model folder, or a LoRA adapter folder on top of the base model its config names. */
function loadModel(dir: string): CausalLM {
  if (!existsSync(join(dir, ADAPTER_CONFIG_NAME))) return AutoModelForCausalLM.from_pretrained(dir);
  const base = LoraConfig.from_pretrained(dir).base_model_name_or_path;
  if (base === null) throw new UsageError(`${dir} holds a LoRA adapter whose adapter_config.json names no base_model_name_or_path`);
  const model = AutoModelForCausalLM.from_pretrained(existingDir(base, "the adapter's base model"));
  // The adapter's layers now sit inside `model`; generation and forward go through them.
  PeftModel.from_pretrained(model, dir);
  console.log(`LoRA adapter ${dir} on base model ${base}`);
  return model;
}

export function inference(argv: string[]): void {
  const v = parse(
    argv,
    {
      "model-dir": { type: "string" },
      prompt: { type: "string", multiple: true },
      "max-new-tokens": { type: "string" },
      "eval-data": { type: "string" },
    },
    USAGE,
  );
  if (v === null) return;
  const dir = existingDir(string(v, "model-dir", "out/finetune/model"), "--model-dir");
  const evalData = typeof v["eval-data"] === "string" ? existingFile(v["eval-data"], "--eval-data") : null;
  const prompts = (v.prompt as unknown as string[] | undefined) ?? ["reverse: wolf -> ", "upper: wolf -> "];
  const maxNewTokens = positiveInt(v, "max-new-tokens", 16);
  const examples = evalData === null ? null : asBadInput(`--eval-data ${evalData}`, () => readExamples(evalData));
  const device = new torch.device(torch.cuda.is_available() ? "cuda" : "cpu");
  // What the folder holds is the user's input: a file that does not load is bad input (exit 2).
  const { tokenizer, model } = asBadInput(`--model-dir ${dir}`, () => ({
    tokenizer: AutoTokenizer.from_pretrained(dir),
    model: loadModel(dir),
  }));
  if (tokenizer.pad_token === null) tokenizer.pad_token = tokenizer.eos_token;
  model.to(device);
  model.eval();
  console.log(`Loaded ${dir} (${model.constructor.name}, ${model.num_parameters().toLocaleString("en-US")} parameters) on ${device}`);
  const outputs = complete(model, tokenizer, prompts, device, maxNewTokens);
  prompts.forEach((p, i) => console.log(`${JSON.stringify(p)} → ${JSON.stringify(outputs[i])}`));
  if (examples !== null) {
    const skill = measureSkill(model, tokenizer, examples, device);
    for (const s of skill.samples.slice(0, 6))
      console.log(
        `  ${s.output === s.completion ? "✓" : "✗"} ${JSON.stringify(s.prompt)} → ${JSON.stringify(s.output)} (expected ${JSON.stringify(s.completion)})`,
      );
    console.log(`Held-out skill of ${dir}: ${formatSkill(skill)} on ${examples.length} prompts`);
  }
}

export async function main(argv: string[]): Promise<number> {
  return runMain("inference.ts", () => inference(argv));
}

if (isEntryPoint(import.meta.url)) process.exitCode = await main(process.argv.slice(2));
