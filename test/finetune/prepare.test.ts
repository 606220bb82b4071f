import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { torch } from "../../src/index.js";
import { main as prepareMain } from "../../examples/finetune/prepare_dataset.js";
import { DEFAULT_CONFIG_DIR } from "../../examples/finetune/lib/paths.js";
import { runPython } from "../helpers/oracle.js";

const dir = mkdtempSync(join(tmpdir(), "prepare-"));
const jsonl = join(dir, "data.jsonl");
writeFileSync(jsonl, ['{"prompt":"upper: ab -> ","completion":"AB"}', "", '{"text":"reverse: abcdefghij -> jihgfedcba"}'].join("\n"));
const txt = join(dir, "data.txt");
writeFileSync(txt, "hello\n\nworld wide\n");

/** Runs the prepare step in-process (as `tessera prepare`), returning its exit code and output. */
async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => void out.push(a.join(" "));
  console.error = (...a: unknown[]) => void err.push(a.join(" "));
  try {
    const code = await prepareMain(args, "tessera prepare");
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

test("prepared .pt files load in Python (weights_only) with the tokens HF's tokenizer gives", async () => {
  const outJsonl = join(dir, "a.pt");
  const outTxt = join(dir, "b.pt");
  const a = await run(["--model", DEFAULT_CONFIG_DIR, "--data", jsonl, "--block-size", "20", "--out", outJsonl]);
  assert.equal(a.code, 0, a.err);
  // Documented behaviour: longer examples are truncated to the block size, and the log counts them.
  assert.match(a.out, /Prepared 2 examples of 20 tokens/);
  assert.match(a.out, /1 of 2 examples were longer than 20 tokens and were truncated/);
  const b = await run(["--model", DEFAULT_CONFIG_DIR, "--data", txt, "--block-size", "12", "--out", outTxt]);
  assert.equal(b.code, 0, b.err);
  assert.doesNotMatch(b.out, /truncated/);

  const local = torch.load(outJsonl) as { input_ids: torch.Tensor; attention_mask: torch.Tensor };
  const py = runPython(
    `
import torch
from transformers import AutoTokenizer
tok = AutoTokenizer.from_pretrained(cfg_dir)
for name, path, texts, n in [("a", pt_a, ["upper: ab -> AB</s>", "reverse: abcdefghij -> jihgfedcba"], 20), ("b", pt_b, ["hello", "world wide"], 12)]:
    d = torch.load(path, weights_only=True)
    ref = tok(texts, padding="max_length", truncation=True, max_length=n, return_tensors="pt")
    out[name + "_keys"] = sorted(d.keys())
    out[name + "_dtypes"] = [str(d["input_ids"].dtype), str(d["attention_mask"].dtype)]
    out[name + "_shape"] = list(d["input_ids"].shape)
    out[name + "_ids_equal"] = bool(torch.equal(d["input_ids"], ref["input_ids"]))
    out[name + "_mask_equal"] = bool(torch.equal(d["attention_mask"], ref["attention_mask"]))
out["a_ids"] = torch.load(pt_a, weights_only=True)["input_ids"]
`,
    { cfg_dir: DEFAULT_CONFIG_DIR, pt_a: outJsonl, pt_b: outTxt },
  );
  for (const name of ["a", "b"]) {
    assert.deepEqual(py[`${name}_keys`], ["attention_mask", "input_ids"]);
    assert.deepEqual(py[`${name}_dtypes`], ["torch.int64", "torch.int64"]);
    assert.equal(py[`${name}_ids_equal`], true, `${name}: input_ids differ from HF's tokenizer`);
    assert.equal(py[`${name}_mask_equal`], true, `${name}: attention_mask differs from HF's tokenizer`);
  }
  assert.deepEqual(py.a_shape, [2, 20]);
  assert.deepEqual(py.b_shape, [2, 12]);
  assert.deepEqual((py.a_ids as torch.Tensor).tolist(), local.input_ids.tolist());
  // <s> u p p e r : ␠ a b ␠ - > ␠ A B </s> <pad>...
  assert.deepEqual((local.input_ids.select(0, 0).tolist() as number[]).slice(0, 3), [1, 89, 84]);
  assert.deepEqual(local.attention_mask.sum(1).tolist(), [17, 20]);
});

test("tessera prepare: usage and input errors exit 2 with a message that names the problem", async () => {
  const help = await run(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.out, /usage: tessera prepare[\s\S]*exit codes: 0 done, 2 bad usage or bad input/);
  const cases: Array<[string[], RegExp]> = [
    [["--model", join(dir, "missing"), "--data", jsonl], /--model .*missing is not a folder/],
    [["--data", join(dir, "nope.jsonl")], /--data .*nope\.jsonl does not exist/],
    [["--block-size", "0"], /--block-size 0: expected a positive integer/],
    [["--frobnicate"], /Unknown option '--frobnicate'/],
  ];
  const bad = join(dir, "bad.jsonl");
  writeFileSync(bad, '{"text":"ok"}\n{"prompt": 3}\n');
  cases.push([["--data", bad], /bad\.jsonl:2: expected an object with a string "text"/]);
  const csv = join(dir, "data.csv");
  writeFileSync(csv, "a,b\n");
  cases.push([["--data", csv], /data\.csv: expected a \.txt or \.jsonl file/]);
  for (const [args, message] of cases) {
    const r = await run([...args, "--out", join(dir, "x.pt")]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, message);
    assert.match(r.err, /run 'tessera prepare --help'/);
  }
});

test("the tessera command lists prepare and passes its exit code through", () => {
  const bin = join(import.meta.dirname, "..", "..", "bin", "tessera.mjs");
  const help = spawnSync(process.execPath, [bin, "--help"], { encoding: "utf8" });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /prepare +tokenize a \.txt\/\.jsonl dataset/);
  assert.match(help.stdout, /exit codes: 0 ok, 2 bad usage or input, 1 failure while running/);
  const missing = spawnSync(process.execPath, [bin, "prepare", "--model", join(dir, "no-model")], { encoding: "utf8" });
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /tessera prepare: --model .*no-model is not a folder/);
});
