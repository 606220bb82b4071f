// Batches: padding (longest, max_length, multiple-of, left), truncation, attention masks, int64
// tensors, special-token skipping, chat templates and save_pretrained, against HF transformers.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { torch } from "../../src/index.js";
import { AutoTokenizer, type CallOptions } from "../../src/transformers/index.js";
import { dirOf, KINDS, trainAndRun } from "./fixtures.js";

const BATCH = ["short", "a much longer sentence with 机器学习 and 🎉 emoji", "", "Café  au lait"];
const CASES: { name: string; side: "left" | "right"; opts: CallOptions }[] = [
  { name: "longest", side: "right", opts: { padding: true } },
  { name: "max_length+truncation", side: "right", opts: { padding: "max_length", truncation: true, max_length: 12 } },
  { name: "left longest", side: "left", opts: { padding: "longest" } },
  { name: "truncation only", side: "right", opts: { truncation: true, max_length: 5 } },
  { name: "left truncation+multiple of 8", side: "left", opts: { padding: true, truncation: true, max_length: 16, pad_to_multiple_of: 8 } },
  { name: "no special tokens", side: "right", opts: { padding: true, add_special_tokens: false } },
];
const MESSAGES = [
  { role: "user", content: "Hello 机器" },
  { role: "assistant", content: "Hi 🎉" },
];

const ORACLE = String.raw`
from transformers import AutoTokenizer
hf = AutoTokenizer.from_pretrained(os.path.join(root, "bytelevel_bpe"))
hf.pad_token = hf.eos_token
out = {"cases": [], "pad_id": hf.pad_token_id}
for c in cases:
    hf.padding_side = c["side"]
    enc = hf(batch, **c["opts"])
    out["cases"].append({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]})
hf.padding_side = "right"
pt = hf(batch, padding=True, return_tensors="pt")
out["pt"] = {"input_ids": pt["input_ids"], "attention_mask": pt["attention_mask"]}
ids = hf(batch, padding=True)["input_ids"]
out["decode_skip"] = hf.batch_decode(ids, skip_special_tokens=True)
out["decode_keep"] = hf.batch_decode(ids)
out["chat_text"] = hf.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
out["chat_ids"] = hf.apply_chat_template(messages, tokenize=True, add_generation_prompt=True, return_dict=False)
out["vocab_size"] = hf.vocab_size
out["len"] = len(hf)
out["tokens"] = hf.convert_ids_to_tokens(ids[1])
`;

const { root, out } = trainAndRun(ORACLE, { batch: BATCH, cases: CASES as never, messages: MESSAGES });
const scratch = mkdtempSync(path.join(os.tmpdir(), "tessera-tok-save-"));
after(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

function bytelevel() {
  const tok = AutoTokenizer.from_pretrained(dirOf(root, KINDS.bytelevel));
  tok.pad_token = tok.eos_token;
  return tok;
}

test("padding, truncation and attention masks equal HF's for a batch", () => {
  const tok = bytelevel();
  assert.equal(tok.pad_token_id, out.pad_id);
  CASES.forEach((c, i) => {
    tok.padding_side = c.side;
    assert.deepEqual(tok(BATCH, c.opts), (out.cases as object[])[i], c.name);
  });
});

test('return_tensors "pt" gives int64 tensors equal to HF\'s', () => {
  const tok = bytelevel();
  const enc = tok(BATCH, { padding: true, return_tensors: "pt" });
  const want = out.pt as { input_ids: InstanceType<typeof torch.Tensor>; attention_mask: InstanceType<typeof torch.Tensor> };
  assert.equal(enc.input_ids.dtype, torch.int64);
  assert.equal(enc.attention_mask?.dtype, torch.int64);
  assert.deepEqual(enc.input_ids.tolist(), want.input_ids.tolist());
  assert.deepEqual(enc.attention_mask?.tolist(), want.attention_mask.tolist());
  assert.deepEqual(tok("one text", { return_tensors: "pt" }).input_ids.shape.length, 2);
  assert.throws(() => tok(BATCH, { return_tensors: "pt" }), /different lengths.*padding/);
  assert.throws(
    () => tok(BATCH, { padding: true, truncation: true, max_length: 10, pad_to_multiple_of: 8 }),
    /truncation length \(10\) is not a multiple of pad_to_multiple_of \(8\)/,
  );
});

test("batch_decode with and without skip_special_tokens equals HF's; vocab sizes and tokens match", () => {
  const tok = bytelevel();
  const ids = tok(BATCH, { padding: true }).input_ids;
  assert.deepEqual(tok.batch_decode(ids, { skip_special_tokens: true }), out.decode_skip);
  assert.deepEqual(tok.batch_decode(ids), out.decode_keep);
  assert.deepEqual(tok.batch_decode(torch.tensor(ids, { dtype: torch.int64 }), { skip_special_tokens: true }), out.decode_skip);
  assert.equal(tok.vocab_size, out.vocab_size);
  assert.equal(tok.__len__(), out.len);
  assert.deepEqual(tok.convert_ids_to_tokens(ids[1]), out.tokens);
  assert.deepEqual(tok.convert_tokens_to_ids(out.tokens as string[]), ids[1]);
});

test("apply_chat_template renders and tokenizes as HF", () => {
  const tok = bytelevel();
  assert.equal(tok.apply_chat_template(MESSAGES, { tokenize: false, add_generation_prompt: true }), out.chat_text);
  assert.deepEqual(tok.apply_chat_template(MESSAGES, { add_generation_prompt: true, return_dict: false }), out.chat_ids);
  assert.throws(
    () => AutoTokenizer.from_pretrained(dirOf(root, KINDS.spmBpe)).apply_chat_template(MESSAGES),
    /does not have a chat template/,
  );
});

test("sentencepiece tokenizer: pad_token = eos_token, left padding, masks and skip_special_tokens", () => {
  const tok = AutoTokenizer.from_pretrained(dirOf(root, KINDS.spmBpe));
  assert.equal(tok.pad_token, null);
  assert.throws(() => tok(["a", "bb"], { padding: true }), /does not have a padding token.*pad_token = tokenizer.eos_token/);
  tok.pad_token = tok.eos_token;
  tok.padding_side = "left";
  assert.deepEqual(
    [tok.bos_token, tok.eos_token, tok.unk_token, tok.bos_token_id, tok.eos_token_id, tok.pad_token_id],
    ["<s>", "</s>", "<unk>", 1, 2, 2],
  );
  const enc = tok(["Hello", "Hello world"], { padding: true });
  const hello = tok.encode("Hello");
  const helloWorld = tok.encode("Hello world");
  const pad = helloWorld.length - hello.length;
  assert.deepEqual(enc.input_ids, [[...new Array(pad).fill(2), ...hello], helloWorld]);
  assert.deepEqual(enc.attention_mask, [[...new Array(pad).fill(0), ...hello.map(() => 1)], helloWorld.map(() => 1)]);
  assert.deepEqual(tok.batch_decode(enc.input_ids, { skip_special_tokens: true }), ["Hello", "Hello world"]);
  // LlamaTokenizer (legacy) writes special tokens verbatim between sentencepiece-decoded runs.
  assert.equal(tok.decode([...tok.encode("Hello world"), 2]), "<s> Hello world</s>");
});

test("save_pretrained writes loadable tokenizer files, keeping settings", () => {
  for (const kind of [KINDS.bytelevel, KINDS.spmUnigram]) {
    const tok = AutoTokenizer.from_pretrained(dirOf(root, kind));
    tok.pad_token = tok.eos_token;
    tok.padding_side = "left";
    const dest = path.join(scratch, kind);
    tok.save_pretrained(dest);
    assert.deepEqual(
      readdirSync(dest).sort(),
      [kind === KINDS.bytelevel ? "tokenizer.json" : "tokenizer.model", "special_tokens_map.json", "tokenizer_config.json"].sort(),
    );
    const again = AutoTokenizer.from_pretrained(dest);
    assert.equal(again.padding_side, "left");
    assert.equal(again.pad_token, tok.eos_token);
    assert.equal(again.chat_template, tok.chat_template);
    assert.deepEqual(again(BATCH, { padding: true }), tok(BATCH, { padding: true }));
  }
});
