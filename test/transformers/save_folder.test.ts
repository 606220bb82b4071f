// Issue 19, findings 3, 4 and 10: save_pretrained (model, adapter, tokenizer) replaces its folder in
// one step. A save over another model leaves no weight file of another format and no adapter to be
// loaded instead; SIGINT mid-save leaves a whole folder and no temporary; SIGKILL mid-save leaves
// the old folder whole and the next save removes the dead temporary; symlinks planted in the folder
// are replaced, never written through; other files of the folder (a README, a base model) are kept.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { torch } from "../../src/index.js";
import { AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM } from "../../src/transformers/index.js";
import { LoraConfig, get_peft_model } from "../../src/transformers/peft/index.js";
import { assertClose, repoRoot } from "../helpers/oracle.js";
import { tempDir } from "./helpers/batch.js";

const root = tempDir("save-folder");
after(() => rmSync(root, { recursive: true, force: true }));

const tiny = (hidden: number) =>
  new LlamaConfig({ hidden_size: hidden, num_hidden_layers: 1, num_attention_heads: 2, vocab_size: 64, intermediate_size: 64 });
const ids = torch.arange(8).reshape(1, 8);
const logitsOf = (m: LlamaForCausalLM) => torch.no_grad(() => m.forward(ids).logits);

/** Hidden entries (temporaries, staging, old copies) next to or inside `dir`. */
function hiddenBeside(dir: string): string[] {
  return readdirSync(path.dirname(dir)).filter((n) => n.startsWith(`.${path.basename(dir)}.`));
}

test("a single-file save over a sharded one, and a .bin save over a safetensors one, load the new weights", () => {
  const dir = path.join(root, "formats");
  torch.manual_seed(1);
  LlamaForCausalLM.from_config(tiny(32)).save_pretrained(dir, { max_shard_size: 20_000 });
  assert.ok(readdirSync(dir).includes("model.safetensors.index.json"), "the first save is sharded");
  torch.manual_seed(2);
  const single = LlamaForCausalLM.from_config(tiny(32));
  single.save_pretrained(dir);
  assert.deepEqual(
    readdirSync(dir)
      .filter((f) => /model|index/.test(f))
      .sort(),
    ["model.safetensors"],
  );
  assertClose(logitsOf(AutoModelForCausalLM.from_pretrained(dir) as LlamaForCausalLM), logitsOf(single), { rtol: 0, atol: 0 });
  torch.manual_seed(3);
  const bin = LlamaForCausalLM.from_config(tiny(32));
  bin.save_pretrained(dir, { safe_serialization: false });
  assert.deepEqual(
    readdirSync(dir)
      .filter((f) => /model/.test(f))
      .sort(),
    ["pytorch_model.bin"],
  );
  assertClose(logitsOf(AutoModelForCausalLM.from_pretrained(dir) as LlamaForCausalLM), logitsOf(bin), { rtol: 0, atol: 0 });
  assert.deepEqual(hiddenBeside(dir), []);
});

test("a full-model save into an adapter folder removes the adapter; an adapter save keeps the base model", () => {
  const dir = path.join(root, "adapter");
  torch.manual_seed(4);
  const base = LlamaForCausalLM.from_config(tiny(32));
  base.save_pretrained(path.join(dir, "base"));
  writeFileSync(path.join(dir, "adapter_model.bin"), "stale adapter of another format");
  const peft = get_peft_model(
    base,
    new LoraConfig({ r: 2, lora_alpha: 4, target_modules: ["q_proj"], base_model_name_or_path: path.join(dir, "base") }),
  );
  peft.save_pretrained(dir);
  assert.deepEqual(readdirSync(dir).sort(), ["adapter_config.json", "adapter_model.safetensors", "base"]);
  assert.ok(existsSync(path.join(dir, "base", "model.safetensors")), "the base model is kept");
  writeFileSync(path.join(dir, "README.md"), "notes");
  torch.manual_seed(5);
  const full = LlamaForCausalLM.from_config(tiny(32));
  full.save_pretrained(dir);
  for (const f of ["adapter_config.json", "adapter_model.safetensors"])
    assert.ok(!existsSync(path.join(dir, f)), `${f} survived a full-model save`);
  assert.equal(readFileSync(path.join(dir, "README.md"), "utf8"), "notes", "unrelated files are kept");
  assertClose(logitsOf(AutoModelForCausalLM.from_pretrained(dir) as LlamaForCausalLM), logitsOf(full), { rtol: 0, atol: 0 });
});

test("symlinks planted in the folder are replaced, never written through; their targets stay as they were", () => {
  const dir = path.join(root, "links");
  mkdirSync(dir);
  const outside = path.join(root, "outside");
  mkdirSync(outside);
  const names = [
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "tokenizer.json",
  ];
  for (const n of names) {
    writeFileSync(path.join(outside, n), "precious");
    symlinkSync(path.join(outside, n), path.join(dir, n));
  }
  symlinkSync(path.join(outside, "config.json"), path.join(dir, "notes.txt"));
  LlamaForCausalLM.from_config(tiny(32)).save_pretrained(dir);
  AutoTokenizer.from_pretrained(path.join(repoRoot, "examples/finetune/config")).save_pretrained(dir);
  tiny(32).save_pretrained(dir);
  for (const n of names) {
    assert.equal(readFileSync(path.join(outside, n), "utf8"), "precious", `${n}: written through the symlink`);
    assert.ok(lstatSync(path.join(dir, n)).isFile(), `${n} is a file of the folder`);
  }
  assert.ok(lstatSync(path.join(dir, "notes.txt")).isSymbolicLink(), "a file the save does not own is kept as it was");
  assert.ok(AutoModelForCausalLM.from_pretrained(dir) instanceof LlamaForCausalLM);
});

test("a tokenizer save keeps the model's files and drops the other kind's tokenizer file", () => {
  const dir = path.join(root, "tok");
  LlamaForCausalLM.from_config(tiny(32)).save_pretrained(dir);
  writeFileSync(path.join(dir, "tokenizer.model"), "stale sentencepiece model");
  const tok = AutoTokenizer.from_pretrained(path.join(repoRoot, "examples/finetune/config"));
  const written = tok.save_pretrained(dir);
  assert.deepEqual(written.map((f) => path.basename(f)).sort(), ["special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"]);
  assert.ok(!existsSync(path.join(dir, "tokenizer.model")), "a stale tokenizer.model would be loaded with use_fast: false");
  assert.ok(existsSync(path.join(dir, "model.safetensors")) && existsSync(path.join(dir, "config.json")));
  assert.deepEqual(AutoTokenizer.from_pretrained(dir).encode("upper: ab -> AB"), tok.encode("upper: ab -> AB"));
  // Saving onto the folder it was loaded from works too.
  AutoTokenizer.from_pretrained(dir).save_pretrained(dir);
  assert.deepEqual(AutoTokenizer.from_pretrained(dir).encode("upper: ab -> AB"), tok.encode("upper: ab -> AB"));
  assert.deepEqual(hiddenBeside(dir), []);
});

const CHILD = (dir: string) => `
import { torch } from ${JSON.stringify(path.join(repoRoot, "src/index.ts"))};
import { LlamaConfig, LlamaForCausalLM } from ${JSON.stringify(path.join(repoRoot, "src/transformers/index.ts"))};
torch.manual_seed(9);
const m = LlamaForCausalLM.from_config(new LlamaConfig({ hidden_size: 256, num_hidden_layers: 4, num_attention_heads: 4, vocab_size: 32000, intermediate_size: 512 }));
// A program that lets the event loop turn between saves, as a training loop between steps.
for (;;) {
  m.save_pretrained(${JSON.stringify(dir)});
  await new Promise((r) => setImmediate(r));
}
`;

/** Runs a child that saves a ~80 MB model into `dir` over and over; sends `signal` once a save's temporary folder exists. */
async function interruptSave(dir: string, signal: NodeJS.Signals): Promise<NodeJS.Signals | null> {
  const script = path.join(root, `child-${signal}.mts`);
  writeFileSync(script, CHILD(dir));
  const child = spawn(process.execPath, ["--import", "tsx", script], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr.on("data", (d: Buffer) => void (err += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((done) => child.on("exit", (_code, sig) => done(sig)));
  const deadline = Date.now() + 120_000;
  while (!hiddenBeside(dir).some((n) => n.includes(".tmp-"))) {
    assert.ok(Date.now() < deadline && child.exitCode === null, `the child never started a save: ${err}`);
    await new Promise((r) => setTimeout(r, 2));
  }
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const sig = await exited;
  clearTimeout(timer);
  return sig;
}

test("SIGINT mid-save: the save finishes or is undone, the folder loads whole, no temporary is left", async () => {
  const dir = path.join(root, "sigint");
  torch.manual_seed(6);
  LlamaForCausalLM.from_config(tiny(32)).save_pretrained(dir);
  assert.equal(await interruptSave(dir, "SIGINT"), "SIGINT");
  assert.deepEqual(hiddenBeside(dir), [], "temporaries left after SIGINT");
  const loaded = AutoModelForCausalLM.from_pretrained(dir);
  assert.ok([32, 256].includes(loaded.config.hidden_size), "one model, whole");
});

test("SIGKILL mid-save: the old folder is whole; the next save removes the dead temporary", async () => {
  const dir = path.join(root, "sigkill");
  torch.manual_seed(7);
  const old = LlamaForCausalLM.from_config(tiny(32));
  old.save_pretrained(dir);
  copyFileSync(path.join(dir, "config.json"), path.join(root, "sigkill-config.json"));
  assert.equal(await interruptSave(dir, "SIGKILL"), "SIGKILL");
  const loaded = AutoModelForCausalLM.from_pretrained(dir) as LlamaForCausalLM;
  if (loaded.config.hidden_size === 32) assertClose(logitsOf(loaded), logitsOf(old), { rtol: 0, atol: 0, msg: "the old model" });
  old.save_pretrained(dir);
  assert.deepEqual(hiddenBeside(dir), [], "the dead process's temporary was not removed");
});
