import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { torch } from "../../src/index.js";
import { AutoModelForCausalLM } from "../../src/transformers/models/auto/index.js";
import { main as prepareMain } from "../../examples/finetune/prepare_dataset.js";
import { main as trainMain, mask_pads, type TrainResult } from "../../examples/finetune/train.js";
import { main as inferenceMain } from "../../examples/finetune/inference.js";
import { DEFAULT_HELDOUT_DATA } from "../../examples/finetune/lib/paths.js";
import { readEventFile } from "../tensorboard/read_events.js";
import { assertClose, runPython } from "../helpers/oracle.js";
import { quiet } from "./_tutorial_job.js";

// As the main job: one intra-op thread (the tiny model gains nothing from more on a shared CPU).
torch.set_num_threads(1);
const dir = mkdtempSync(join(tmpdir(), "train-"));
const dataset = join(dir, "dataset.pt");

test("mask_pads sets padding positions to -100", () => {
  const ids = torch.tensor(
    [
      [5, 6, 0, 0],
      [7, 8, 9, 0],
    ],
    { dtype: torch.int64 },
  );
  const mask = torch.tensor(
    [
      [1, 1, 0, 0],
      [1, 1, 1, 0],
    ],
    { dtype: torch.int64 },
  );
  assert.deepEqual(mask_pads(ids, mask).tolist(), [
    [5, 6, -100, -100],
    [7, 8, 9, -100],
  ]);
});

test("a short run on the embedded default: loss falls, TensorBoard files parse, Python transformers loads the model", async () => {
  assert.equal((await quiet(() => prepareMain(["--out", dataset]))).code, 0);
  const heldout = join(dir, "heldout.jsonl");
  writeFileSync(heldout, readFileSync(DEFAULT_HELDOUT_DATA, "utf8").split("\n").slice(0, 8).join("\n"));
  const model = join(dir, "model");
  const runs = join(dir, "runs");
  const r = await quiet(() =>
    trainMain([
      "--dataset",
      dataset,
      "--max-steps",
      "20",
      "--log-interval",
      "5",
      "--save-model-dir",
      model,
      "--tensorboard-dir",
      runs,
      "--eval-data",
      heldout,
    ]),
  );
  assert.equal(r.code, 0, r.err);
  assert.match(
    r.out,
    /\[tessera\] Advanced Parallelization plan: dp 1, tp 1, pp 1, vpp 1, micro_batch 16, grad_accum 1, zero 0, .*; predicted memory per rank /,
  );
  assert.match(
    r.out,
    /\[Step 5\/20\] \| Loss: \d+\.\d+ \| Duration: \d+\.\d\d s \| Throughput: [\d,]+ tokens\/s \([\d,]+ non-pad\) \| MFU n\/a/,
  );
  assert.match(r.out, /Skill before training: exact match \d+\.\d %/);
  const result = JSON.parse(readFileSync(join(model, "train_results.json"), "utf8")) as TrainResult;
  assert.deepEqual(
    result.losses.map(([s]) => s),
    [5, 10, 15, 20],
  );
  // Random init starts at ~ln(128) = 4.85; 20 steps of AdamW at 3e-3 bring it under 3.
  assert.ok(result.losses[3]![1] < 3.0, `loss after 20 steps: ${result.losses[3]![1]}`);
  assert.ok(result.losses[3]![1] < result.losses[0]![1]);
  // Throughput is measured from the batches run: 20 steps × 16 × 24 tokens.
  assert.equal(Math.round(result.tokens_per_s * result.seconds), 20 * 16 * 24);

  const events = readEventFile(join(runs, readdirSync(runs)[0]!));
  assert.equal(events[0]!.file_version, "brain.Event:2");
  const tbLoss = events.flatMap((e) => e.values.filter((v) => v.tag === "train/loss").map((v) => [e.step, v.simple_value!]));
  assert.deepEqual(
    tbLoss,
    result.losses.map(([s, l]) => [s, Math.fround(l)]),
  );

  // The saved folder is HF format: Python transformers loads it and computes the same logits.
  const ids = torch.tensor([[1, 89, 84, 84, 73, 86, 30, 4]], { dtype: torch.int64 });
  const ours = torch.no_grad(() => AutoModelForCausalLM.from_pretrained(model).forward(ids).logits);
  const py = runPython(
    `
from transformers import AutoModelForCausalLM, AutoTokenizer
m = AutoModelForCausalLM.from_pretrained(model_dir).eval()
tok = AutoTokenizer.from_pretrained(model_dir)
with torch.no_grad():
    out["logits"] = m(ids).logits
out["cls"] = type(m).__name__
out["pad"] = tok.pad_token_id
`,
    { model_dir: model, ids },
  );
  assert.equal(py.cls, "LlamaForCausalLM");
  assert.equal(py.pad, 0);
  assertClose(ours, py.logits as torch.Tensor, { rtol: 1e-4, atol: 1e-4 });
});

test("--use-lora trains only the adapters, saves them with their base, and inference.ts loads the adapter folder", async () => {
  const out = join(dir, "lora");
  const r = await quiet(() =>
    trainMain([
      "--dataset",
      dataset,
      "--max-steps",
      "2",
      "--log-interval",
      "1",
      "--use-lora",
      "--lora-r",
      "4",
      "--save-model-dir",
      out,
      "--tensorboard-dir",
      join(dir, "lora-runs"),
      "--eval-data",
      join(dir, "heldout.jsonl"),
    ]),
  );
  assert.equal(r.code, 0, r.err);
  // r=4 on q_proj and v_proj of 4 layers: 4 × 2 × (4·128 + 128·4) parameters.
  assert.match(r.out, /LoRA r=4 on q_proj, v_proj: 8,192 trainable of 894,080 parameters/);
  for (const f of ["adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "base/model.safetensors"])
    assert.ok(existsSync(join(out, f)), f);
  const inf = await quiet(() => inferenceMain(["--model-dir", out, "--prompt", "upper: abcd -> ", "--max-new-tokens", "4"]));
  assert.equal(inf.code, 0, inf.err);
  assert.match(inf.out, /LoRA adapter .*lora on base model .*lora\/base/);
  assert.match(inf.out, /"upper: abcd -> " → ".*"/);
});

test("train.ts: bad input exits 2 with a message that names the problem", async () => {
  const cases: Array<[string[], RegExp]> = [
    [["--model", join(dir, "missing")], /--model .*missing is not a folder/],
    [["--dataset", dataset, "--batch-size", "5000"], /--batch-size 5000 is larger than the dataset \(3000 examples/],
    [["--dataset", dataset, "--block-size", "32"], /holds blocks of 24 tokens, but --block-size is 32/],
    [["--dataset", join(dir, "none.pt")], /--dataset .*none\.pt does not exist/],
    [["--dataset", dataset, "--lr=-1"], /--lr -1: expected a positive number/],
  ];
  for (const [args, message] of cases) {
    const r = await quiet(() => trainMain(args));
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, message);
  }
  const help = await quiet(() => trainMain(["--help"]));
  assert.equal(help.code, 0);
  assert.match(help.out, /--use-lora[\s\S]*exit codes/);
});
