// Bad input: missing files, corrupted tokenizer.json, truncated tokenizer.model — each a clear error
// naming the file, never a crash or hang.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { AutoTokenizer, SentencePieceProcessor } from "../../src/transformers/index.js";

const root = mkdtempSync(path.join(os.tmpdir(), "tessera-tok-bad-"));
after(() => rmSync(root, { recursive: true, force: true }));

function folder(name: string, files: Record<string, string | Uint8Array>): string {
  const d = path.join(root, name);
  mkdirSync(d, { recursive: true });
  for (const [f, content] of Object.entries(files)) writeFileSync(path.join(d, f), content);
  return d;
}

/** A hand-built ModelProto: pieces <unk>, <s>, </s>, ▁a with a BPE trainer_spec. */
function tinyModel(): Uint8Array {
  const bytes: number[] = [];
  const ld = (field: number, payload: number[]) => [(field << 3) | 2, payload.length, ...payload];
  const piece = (s: string, score: number, type: number) => {
    const f = new Uint8Array(new Float32Array([score]).buffer);
    return ld(1, [...ld(1, [...Buffer.from(s, "utf8")]), (2 << 3) | 5, ...f, 3 << 3, type]);
  };
  bytes.push(...piece("<unk>", 0, 2), ...piece("<s>", 0, 3), ...piece("</s>", 0, 3), ...piece("\u2581a", -1, 1), ...piece("a", -2, 1));
  bytes.push(...ld(2, [3 << 3, 2])); // trainer_spec { model_type: BPE }
  bytes.push(...ld(3, [4 << 3, 0])); // normalizer_spec { remove_extra_whitespaces: false }
  return new Uint8Array(bytes);
}

test("a hand-built tokenizer.model parses and encodes", () => {
  const sp = new SentencePieceProcessor(tinyModel());
  assert.deepEqual(sp.encode("a a"), [3, 3]);
  assert.equal(sp.decode([1, 3, 3, 2]), "a a");
});

test("a folder without tokenizer files says what was looked for", () => {
  const d = folder("empty", { "tokenizer_config.json": "{}" });
  assert.throws(
    () => AutoTokenizer.from_pretrained(d),
    (e: Error) => e.message.includes(d) && /tokenizer\.json/.test(e.message) && /tokenizer\.model/.test(e.message),
  );
  assert.throws(() => AutoTokenizer.from_pretrained(path.join(root, "nope")), /nope is not a folder/);
});

test("a corrupted tokenizer.json names the file and the JSON problem", () => {
  const d = folder("badjson", { "tokenizer.json": '{"model": {"type": "BPE", "vocab": {"a": 0' });
  assert.throws(
    () => AutoTokenizer.from_pretrained(d),
    (e: Error) => e.message.includes(path.join(d, "tokenizer.json")) && /not valid JSON/.test(e.message),
  );
  const e2 = folder("nomodel", { "tokenizer.json": '{"version": "1.0"}' });
  assert.throws(() => AutoTokenizer.from_pretrained(e2), /tokenizer\.json is not a tokenizer\.json: it has no "model" section/);
  const e3 = folder("badconfig", { "tokenizer.json": "{}", "tokenizer_config.json": "{oops" });
  assert.throws(() => AutoTokenizer.from_pretrained(e3), /tokenizer_config\.json is not valid JSON/);
});

test("a truncated tokenizer.model is a clear error naming the file", () => {
  const model = tinyModel();
  for (const cut of [model.length - 1, model.length - 4, 7, 1]) {
    const d = folder(`trunc${cut}`, { "tokenizer.model": model.subarray(0, cut) });
    assert.throws(
      () => AutoTokenizer.from_pretrained(d),
      (e: Error) =>
        e.message.includes(path.join(d, "tokenizer.model")) && /not a valid SentencePiece model .*(truncated|no pieces)/.test(e.message),
      `cut at ${cut}`,
    );
  }
  const d = folder("garbage", { "tokenizer.model": "this is not a protobuf at all" });
  assert.throws(() => AutoTokenizer.from_pretrained(d), /tokenizer\.model: not a valid SentencePiece model/);
});

test("out-of-range ids and non-string input are reported", () => {
  const d = folder("tiny", { "tokenizer.model": tinyModel() });
  const tok = AutoTokenizer.from_pretrained(d);
  assert.throws(() => tok.decode([99]), /token id 99 is out of range \[0, 5\)/);
  assert.throws(() => tok.encode(42 as unknown as string), /text input must be a string/);
});
