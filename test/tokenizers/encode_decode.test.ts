// Encode/decode of a multilingual text set equals Python's, for byte-level BPE and Llama-2-style
// tokenizer.json files and for sentencepiece BPE/Unigram tokenizer.model files read by our own parser.
import { after, test } from "node:test";
import { rmSync } from "node:fs";
import assert from "node:assert/strict";
import { AutoTokenizer } from "../../src/transformers/index.js";
import { dirOf, KINDS, TEXTS, trainAndRun } from "./fixtures.js";

const ORACLE = String.raw`
import re
from transformers import AutoTokenizer
from tokenizers import Tokenizer
out = {}
hf = AutoTokenizer.from_pretrained(os.path.join(root, "bytelevel_bpe"))
out["bytelevel_bpe"] = [{"ids": hf(t)["input_ids"], "dec": hf.decode(hf(t)["input_ids"]), "skip": hf.decode(hf(t)["input_ids"], skip_special_tokens=True)} for t in texts]
tk = Tokenizer.from_file(os.path.join(root, "metaspace_bpe", "tokenizer.json"))
out["metaspace_bpe"] = [{"ids": tk.encode(t).ids, "dec": tk.decode(tk.encode(t).ids, skip_special_tokens=False), "skip": tk.decode(tk.encode(t).ids)} for t in texts]
# HF's slow LlamaTokenizer (legacy): split on special tokens, sentencepiece on each chunk, then BOS (and EOS).
for name, add_eos in [("spm_bpe", False), ("spm_unigram", True)]:
    sp = spm.SentencePieceProcessor(model_file=os.path.join(root, name, "tokenizer.model"))
    def enc(t):
        ids = []
        for part in re.split(r"(<s>|</s>|<unk>)", t):
            if part in ("<s>", "</s>", "<unk>"): ids.append(sp.piece_to_id(part))
            elif part: ids += sp.encode(part)
        return [sp.bos_id()] + ids + ([sp.eos_id()] if add_eos else [])
    out[name] = [{"ids": enc(t), "skip": sp.decode([i for i in enc(t) if i not in (sp.bos_id(), sp.eos_id())]), "plain": sp.encode(t), "plain_dec": sp.decode(sp.encode(t))} for t in texts]
`;

const { root, out } = trainAndRun(ORACLE, { texts: TEXTS });
after(() => rmSync(root, { recursive: true, force: true }));
type Row = { ids: number[]; dec?: string; skip: string; plain?: number[]; plain_dec?: string };
const expected = out as unknown as Record<string, Row[]>;

for (const kind of [KINDS.bytelevel, KINDS.metaspace, KINDS.spmBpe, KINDS.spmUnigram]) {
  test(`${kind}: encode and decode equal Python's on multilingual text`, () => {
    const tok = AutoTokenizer.from_pretrained(dirOf(root, kind));
    TEXTS.forEach((text, i) => {
      const want = expected[kind][i];
      const ids = tok.encode(text);
      assert.deepEqual(ids, want.ids, `encode ${JSON.stringify(text)}`);
      assert.deepEqual(tok(text).input_ids, want.ids, `__call__ ${JSON.stringify(text)}`);
      if (want.dec !== undefined) assert.equal(tok.decode(ids), want.dec, `decode ${JSON.stringify(text)}`);
      assert.equal(tok.decode(ids, { skip_special_tokens: true }), want.skip, `decode(skip_special_tokens) ${JSON.stringify(text)}`);
    });
  });
}

test("tokenizer.model: SentencePieceProcessor equals Python sentencepiece (BPE with byte fallback, Unigram with nmt_nfkc)", () => {
  for (const kind of [KINDS.spmBpe, KINDS.spmUnigram]) {
    const tok = AutoTokenizer.from_pretrained(dirOf(root, kind));
    const backend = tok.backend as unknown as { sp: import("../../src/transformers/index.js").SentencePieceProcessor };
    TEXTS.forEach((text, i) => {
      assert.deepEqual(backend.sp.encode(text), expected[kind][i].plain, `${kind} encode ${JSON.stringify(text)}`);
      assert.equal(
        backend.sp.decode(expected[kind][i].plain as number[]),
        expected[kind][i].plain_dec,
        `${kind} decode ${JSON.stringify(text)}`,
      );
    });
  }
});

test("Llama-2 style tokenizer.json and the tokenizer.model it was converted from agree", () => {
  const json = AutoTokenizer.from_pretrained(dirOf(root, KINDS.metaspace));
  const model = AutoTokenizer.from_pretrained(dirOf(root, KINDS.spmBpe));
  const text = "Hello 世界 🦄  two  spaces";
  assert.deepEqual(json.encode(text), model.encode(text));
  assert.equal(json.decode(json.encode(text), { skip_special_tokens: true }), text);
});
