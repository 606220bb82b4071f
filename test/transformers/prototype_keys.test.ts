// Issue 19, finding 11: JSON keys "__proto__", "constructor", "prototype" (and method names such as
// "toString") in config.json, generation_config.json, tokenizer_config.json, tokenizer.json and
// adapter_config.json never replace a prototype or shadow a method. Configs keep them as data and
// write them back; generation_config.json refuses them at load, before any training could start;
// a tokenizer vocabulary holding them as tokens encodes them as Python `tokenizers` does.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { torch } from "../../src/index.js";
import { AutoConfig, AutoTokenizer, GenerationConfig, LlamaConfig, LlamaForCausalLM } from "../../src/transformers/index.js";
import { parseJson } from "../../src/torch/serialization/json.js";
import { repoRoot, runPython } from "../helpers/oracle.js";
import { tempDir } from "./helpers/batch.js";

const root = tempDir("proto-keys");
after(() => rmSync(root, { recursive: true, force: true }));

const HOSTILE =
  '"__proto__": {"polluted": "yes", "hidden_size": 8}, "constructor": {"prototype": {"polluted": "yes"}}, "prototype": 3, "toString": 7';
const tiny = { model_type: "llama", hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, vocab_size: 64, intermediate_size: 64 };

/** Nothing in the process had its prototype changed by the hostile files. */
function assertNoPollution(): void {
  assert.equal(({} as Record<string, unknown>).polluted, undefined, "Object.prototype was polluted");
  assert.equal(Object.getPrototypeOf(Object.prototype), null);
}

test("parseJson: every object has a null prototype; __proto__ stays an own data key", () => {
  const v = parseJson('{"__proto__": {"a": 1}, "x": [{"constructor": 2}]}') as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(v), null);
  assert.deepEqual(Object.keys(v), ["__proto__", "x"]);
  const inner = (v.x as Record<string, unknown>[])[0];
  assert.equal(Object.getPrototypeOf(inner), null);
  assert.equal(inner.constructor, 2);
  assert.ok(Array.isArray(v.x), "arrays stay arrays");
  assertNoPollution();
});

test("config.json with __proto__/constructor/prototype/toString keys: typed config intact, keys kept as data", () => {
  const dir = path.join(root, "config");
  mkdirSync(dir);
  writeFileSync(path.join(dir, "config.json"), `{${HOSTILE}, ${JSON.stringify(tiny).slice(1)}`);
  const config = AutoConfig.from_pretrained(dir);
  assert.ok(config instanceof LlamaConfig, "the prototype is still LlamaConfig's");
  assert.equal(config.hidden_size, 32, "__proto__.hidden_size did not become the hidden size");
  assert.equal(config.model_type, "llama");
  assert.equal(typeof config.to_dict, "function");
  const model = LlamaForCausalLM.from_config(config);
  const out = path.join(root, "config-saved");
  model.save_pretrained(out);
  const written = JSON.parse(readFileSync(path.join(out, "config.json"), "utf8")) as Record<string, unknown>;
  assert.deepEqual(Object.getOwnPropertyDescriptor(written, "__proto__")?.value, { polluted: "yes", hidden_size: 8 });
  assert.equal(written.prototype, 3);
  assert.equal(Object.getOwnPropertyDescriptor(written, "toString")?.value, 7);
  assert.equal(written.hidden_size, 32);
  assertNoPollution();
});

test("generation_config.json with a __proto__ key is refused at load, naming the key and the file", () => {
  for (const key of ["__proto__", "constructor", "prototype", "to_dict", "save_pretrained"]) {
    const dir = path.join(root, `gen-${key}`);
    mkdirSync(dir);
    const file = path.join(dir, "generation_config.json");
    writeFileSync(file, `{"max_new_tokens": 4, "${key}": {"polluted": "yes"}}`);
    assert.throws(
      () => GenerationConfig.from_pretrained(dir),
      (e: Error) => e.message.includes(JSON.stringify(key)) && e.message.includes(file),
      key,
    );
  }
  // A model folder with such a file fails in from_pretrained, not later in save_pretrained.
  const dir = path.join(root, "gen-model");
  LlamaForCausalLM.from_config(new LlamaConfig(tiny)).save_pretrained(dir);
  writeFileSync(path.join(dir, "generation_config.json"), '{"__proto__": {"save_pretrained": 1}}');
  assert.throws(() => LlamaForCausalLM.from_pretrained(dir), /"__proto__" is not allowed/);
  assert.ok(GenerationConfig.from_pretrained(path.join(root, "config-saved")) instanceof GenerationConfig, "a plain file still loads");
  assertNoPollution();
});

test("tokenizer_config.json with hostile keys: the tokenizer keeps its class and methods", () => {
  const dir = path.join(root, "tok-config");
  mkdirSync(dir);
  copyFileSync(path.join(repoRoot, "examples/finetune/config/tokenizer.json"), path.join(dir, "tokenizer.json"));
  const config = JSON.parse(readFileSync(path.join(repoRoot, "examples/finetune/config/tokenizer_config.json"), "utf8")) as Record<
    string,
    unknown
  >;
  writeFileSync(path.join(dir, "tokenizer_config.json"), `{${HOSTILE}, "encode": 1, ${JSON.stringify(config).slice(1)}`);
  const reference = AutoTokenizer.from_pretrained(path.join(repoRoot, "examples/finetune/config"));
  const tok = AutoTokenizer.from_pretrained(dir);
  assert.equal(tok.constructor, reference.constructor);
  assert.deepEqual(tok.encode("upper: kesw -> KESW"), reference.encode("upper: kesw -> KESW"));
  assertNoPollution();
});

test("tokenizer.json whose vocabulary holds __proto__, constructor, toString: ids as Python tokenizers gives", () => {
  const dir = path.join(root, "tok-vocab");
  mkdirSync(dir);
  const words = ["__proto__", "constructor", "toString", "hasOwnProperty", "prototype", "valueOf", "hello"];
  const vocab = `{"[UNK]": 0, ${words.map((w, i) => `${JSON.stringify(w)}: ${i + 1}`).join(", ")}}`;
  writeFileSync(
    path.join(dir, "tokenizer.json"),
    `{"version": "1.0", "truncation": null, "padding": null, "added_tokens": [], "normalizer": null,
      "pre_tokenizer": {"type": "WhitespaceSplit"}, "post_processor": null, "decoder": null,
      "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100, "vocab": ${vocab}}}`,
  );
  writeFileSync(path.join(dir, "tokenizer_config.json"), '{"unk_token": "[UNK]"}');
  const text = "hello __proto__ constructor toString hasOwnProperty prototype valueOf nothing";
  const expected = runPython(`from tokenizers import Tokenizer\nout["ids"] = Tokenizer.from_file(file).encode(text).ids`, {
    file: path.join(dir, "tokenizer.json"),
    text,
  }).ids;
  const tok = AutoTokenizer.from_pretrained(dir);
  assert.deepEqual(tok.encode(text, { add_special_tokens: false }), expected);
  assert.deepEqual(expected, [7, 1, 2, 3, 4, 5, 6, 0]);
  assertNoPollution();
});

test("a scheduler state with a __proto__ key is refused, not merged into the scheduler", () => {
  const w = torch.zeros(2, { requires_grad: true });
  const opt = new torch.optim.SGD([w], { lr: 0.1 });
  const sched = new torch.optim.lr_scheduler.StepLR(opt, 1);
  const state = parseJson('{"last_epoch": 3, "__proto__": {"step": 1}}') as Record<string, unknown>;
  assert.throws(() => sched.load_state_dict(state), /StepLR\.load_state_dict: key "__proto__" is not allowed/);
  assert.equal(typeof sched.step, "function");
});
