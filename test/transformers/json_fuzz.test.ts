// Issue 19, "Fuzz" and finding 9: config.json, generation_config.json, tokenizer_config.json and
// tokenizer.json mutated 1,000+ times each (hostile values, prototype keys, deleted and added keys,
// truncations, flipped bytes). Each load either works (and what it loaded is used) or throws an
// Error that names the file; none crashes, hangs (each file's run is bounded by the test timeout)
// or pollutes a prototype. Then the attacks of finding 9: a config with 1e9 layers, a
// tokenizer.json whose regex backtracks exponentially.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  AutoConfig,
  AutoModelForCausalLM,
  AutoTokenizer,
  GenerationConfig,
  LlamaConfig,
  LlamaForCausalLM,
} from "../../src/transformers/index.js";
import { hasNestedRepetition } from "../../src/transformers/tokenization/regex_safety.js";
import { repoRoot } from "../helpers/oracle.js";
import { tempDir } from "./helpers/batch.js";

const root = tempDir("json-fuzz");
after(() => rmSync(root, { recursive: true, force: true }));
const configDir = path.join(repoRoot, "examples/finetune/config");
const MUTATIONS = 1000;

/** xorshift32: the same mutations on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

const HOSTILE: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  1e9,
  -1e9,
  1e308,
  -1e308,
  2 ** 53 + 2,
  "",
  "x".repeat(5000),
  "\u0000\ud800",
  [],
  {},
  [[[[[[]]]]]],
  [1, "a", null],
  { __proto__: null, polluted: "yes" },
  { constructor: { prototype: { polluted: "yes" } } },
  "constructor",
  "__proto__",
];
const KEYS = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "valueOf",
  "model_type",
  "type",
  "vocab",
  "num_hidden_layers",
  "chat_template",
  "zz",
];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every container in `v` with the keys (or indices) it holds. */
function containers(v: Json, out: Array<{ obj: Json[] | Record<string, Json>; keys: (string | number)[] }> = []): typeof out {
  if (Array.isArray(v)) {
    out.push({ obj: v, keys: v.map((_, i) => i) });
    v.forEach((x) => containers(x, out));
  } else if (v !== null && typeof v === "object") {
    out.push({ obj: v, keys: Object.keys(v) });
    Object.values(v).forEach((x) => containers(x, out));
  }
  return out;
}

function setOwnKey(obj: Json[] | Record<string, Json>, key: string | number, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** One mutation of `text` (a JSON document): a changed value, a deleted or added key, or damaged bytes. */
function mutate(text: string, r: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const kind = r();
  if (kind < 0.15) return text.slice(0, Math.floor(r() * text.length));
  if (kind < 0.3) {
    const at = Math.floor(r() * text.length);
    return text.slice(0, at) + pick(['"', "{", "]", ",", "\\", "9e999", "\u0000"]) + text.slice(at + 1);
  }
  const doc = JSON.parse(text) as Json;
  const all = containers(doc);
  const { obj, keys } = pick(all);
  const op = r();
  if (op < 0.55 && keys.length > 0) setOwnKey(obj, pick(keys), structuredClone(pick(HOSTILE)));
  else if (op < 0.75 && keys.length > 0 && !Array.isArray(obj)) delete (obj as Record<string, Json>)[pick(keys) as string];
  else if (!Array.isArray(obj)) setOwnKey(obj, pick(KEYS), structuredClone(pick(HOSTILE)));
  else obj.push(structuredClone(pick(HOSTILE)) as Json);
  return JSON.stringify(doc);
}

interface Tally {
  loaded: number;
  refused: number;
}

/** Loads `MUTATIONS` mutations of `name` (in a copy of the tutorial's config folder) with `use`. */
function fuzz(name: string, seed: number, use: (dir: string) => void): Tally {
  const dir = path.join(root, name.replace(/\W/g, "_"));
  mkdirSync(dir);
  for (const f of ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"]) {
    if (f === "generation_config.json") writeFileSync(path.join(dir, f), '{"max_new_tokens": 8, "do_sample": false}');
    else copyFileSync(path.join(configDir, f), path.join(dir, f));
  }
  const base = readFileSync(path.join(dir, name), "utf8");
  const r = rng(seed);
  const tally: Tally = { loaded: 0, refused: 0 };
  for (let i = 0; i < MUTATIONS; i++) {
    const text = mutate(base, r);
    writeFileSync(path.join(dir, name), text);
    try {
      use(dir);
      tally.loaded++;
    } catch (e) {
      assert.ok(e instanceof Error, `${name} mutation ${i}: threw a non-Error ${String(e)}\n${text.slice(0, 300)}`);
      assert.ok(
        !(e instanceof TypeError) && !(e instanceof RangeError && /call stack/.test(e.message)),
        `${name} mutation ${i}: ${e.stack}\n${text.slice(0, 300)}`,
      );
      assert.ok(e.message.includes(dir), `${name} mutation ${i}: the error does not name the file: ${e.message}\n${text.slice(0, 300)}`);
      tally.refused++;
    }
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined, `${name}: Object.prototype was polluted`);
  assert.ok(tally.loaded > 50 && tally.refused > 50, `${name}: ${JSON.stringify(tally)} (the mutations should both load and fail)`);
  return tally;
}

/** Errors of code that reads the folder carry its path; this adds it to one that does not. */
function naming<T>(dir: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof Error && !e.message.includes(dir)) e.message = `${dir}: ${e.message}`;
    throw e;
  }
}

test("config.json: 1,000 mutations load as a config or fail with an error naming the file", { timeout: 120_000 }, () => {
  fuzz("config.json", 1, (dir) => {
    const config = AutoConfig.from_pretrained(dir);
    JSON.stringify(config.to_dict());
    assert.ok(config instanceof LlamaConfig || config.model_type !== "llama");
  });
});

test("generation_config.json: 1,000 mutations", { timeout: 120_000 }, () => {
  fuzz("generation_config.json", 2, (dir) => {
    const g = GenerationConfig.from_pretrained(dir);
    assert.ok(g instanceof GenerationConfig && typeof g.to_dict === "function");
    JSON.stringify(g.to_dict());
  });
});

test("tokenizer_config.json: 1,000 mutations; a loaded tokenizer encodes and decodes", { timeout: 180_000 }, () => {
  fuzz("tokenizer_config.json", 3, (dir) => {
    const tok = AutoTokenizer.from_pretrained(dir);
    naming(dir, () => tok.decode(tok.encode("upper: kesw -> KESW")));
  });
});

test("tokenizer.json: 1,000 mutations; a loaded tokenizer encodes and decodes", { timeout: 180_000 }, () => {
  fuzz("tokenizer.json", 4, (dir) => {
    const tok = AutoTokenizer.from_pretrained(dir);
    naming(dir, () => tok.decode(tok.encode("reverse: kesw -> wsek")));
  });
});

test("num_hidden_layers 1e9: from_config and from_pretrained refuse at once, naming the sizes", () => {
  const config = new LlamaConfig({
    hidden_size: 64,
    num_hidden_layers: 1e9,
    num_attention_heads: 4,
    vocab_size: 128,
    intermediate_size: 128,
  });
  assert.throws(
    () => LlamaForCausalLM.from_config(config),
    /LlamaForCausalLM\.from_config: num_hidden_layers 1000000000, hidden_size 64 and vocab_size 128 need at least [\d.]+ GiB of float32 weights, more than the [\d.]+ GiB of memory here/,
  );
  const dir = path.join(root, "huge");
  mkdirSync(dir);
  writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...config.to_dict(), model_type: "llama" }));
  assert.throws(
    () => AutoModelForCausalLM.from_pretrained(dir),
    (e: Error) => e.message.includes(dir) && /need at least/.test(e.message),
  );
  for (const bad of [-1, 1.5, "32"])
    assert.throws(() => new LlamaConfig({ num_hidden_layers: bad as number }), /num_hidden_layers must be an integer >= 0/);
});

test("a tokenizer.json regex that backtracks exponentially is refused at load; real tokenizers' regexes pass", () => {
  const dir = path.join(root, "regex");
  mkdirSync(dir);
  copyFileSync(path.join(configDir, "tokenizer_config.json"), path.join(dir, "tokenizer_config.json"));
  const json = JSON.parse(readFileSync(path.join(configDir, "tokenizer.json"), "utf8")) as Record<string, unknown>;
  json.pre_tokenizer = { type: "Split", pattern: { Regex: "(a+)+$" }, behavior: "Isolated", invert: false };
  writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(json));
  assert.throws(
    () => AutoTokenizer.from_pretrained(dir),
    /tokenizer\.json: the regex "\(a\+\)\+\$" at pre_tokenizer\.pattern repeats a group/,
  );
  for (const p of ["(a|a)*$", "(?:\\s*)+x", "((ab)*c)+", "(.*a){1,}x"]) assert.ok(hasNestedRepetition(p), p);
  const real = [
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    "▁",
    " ?[^(\\s|[.,!?…。，、।۔،])]+",
  ];
  for (const p of real) assert.ok(!hasNestedRepetition(p), p);
});
