// generate vs HF transformers: greedy (with and without the KV cache, one prompt and a left-padded
// batch, eos/pad), seeded sampling, the default max_length, and each logits processor on fixed scores.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { torch } from "../../src/index.js";
import type { Tensor } from "../../src/torch/tensor.js";
import {
  LlamaForCausalLM,
  LogitsProcessorList,
  type LogitsProcessor,
  RepetitionPenaltyLogitsProcessor,
  TemperatureLogitsWarper,
  TopKLogitsWarper,
  TopPLogitsWarper,
  get_logits_processor,
  type GenerateOptions,
} from "../../src/transformers/index.js";
import { assertClose, runPython, type PyValue } from "../helpers/oracle.js";

const PY = String.raw`
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.generation.logits_process import (RepetitionPenaltyLogitsProcessor as Rep,
    TemperatureLogitsWarper as Temp, TopKLogitsWarper as TopK, TopPLogitsWarper as TopP)
torch.manual_seed(0)
cfg = LlamaConfig(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=128, initializer_range=0.3,
                  bos_token_id=None, eos_token_id=None, pad_token_id=None, tie_word_embeddings=False)
model = LlamaForCausalLM(cfg).eval()
model.save_pretrained(model_dir)

single = torch.tensor([[5, 17, 33, 2, 71, 40, 9]])
batch = torch.tensor([[5, 17, 33, 2, 71, 40, 9], [0, 0, 0, 8, 60, 12, 44], [0, 0, 0, 0, 0, 3, 90]])
mask = (torch.arange(7) >= torch.tensor([[0], [3], [5]])).long()
def gen(ids, m=None, **kw):
    return model.generate(ids, attention_mask=m if m is not None else torch.ones_like(ids), **kw)
out["greedy_single"] = gen(single, max_new_tokens=20, do_sample=False)
out["greedy_single_nocache"] = gen(single, max_new_tokens=20, do_sample=False, use_cache=False)
out["greedy_batch"] = gen(batch, mask, max_new_tokens=20, do_sample=False, pad_token_id=0)
out["greedy_batch_nocache"] = gen(batch, mask, max_new_tokens=20, do_sample=False, pad_token_id=0, use_cache=False)
# eos: one row stops early (pad fill), then every row stops (early end of the loop)
g = out["greedy_batch"]
eos_a = int(g[1, 7 + 3]); out["eos_a"] = eos_a
out["eos_batch"] = gen(batch, mask, max_new_tokens=20, do_sample=False, pad_token_id=0, eos_token_id=[eos_a, 95])
eos_all = [int(g[r, 7 + 2]) for r in range(3)]; out["eos_all"] = eos_all
out["eos_all_batch"] = gen(batch, mask, max_new_tokens=20, do_sample=False, pad_token_id=1, eos_token_id=eos_all)
out["default_length"] = gen(single)
torch.manual_seed(1234)
out["sample_batch"] = gen(batch, mask, max_new_tokens=15, do_sample=True, temperature=0.7, top_k=12, top_p=0.9, repetition_penalty=1.3, pad_token_id=0)
torch.manual_seed(99)
out["sample_plain"] = gen(single, max_new_tokens=15, do_sample=True, top_k=0)

ids = torch.randint(0, 40, (4, 10))
scores = torch.randn(4, 40) * 3
scores[1, :6] = 2.5  # ties at the top-k border
out["ids"] = ids; out["scores"] = scores
cases = {
  "rep": [Rep(1.3)], "rep_below_one": [Rep(0.6)], "temp": [Temp(0.7)], "topk": [TopK(5)], "topk_big": [TopK(100)],
  "topp": [TopP(0.8)], "topp_small": [TopP(0.01)], "topp_keep3": [TopP(0.05, min_tokens_to_keep=3)],
  "combined": [Rep(1.2), Temp(0.5), TopK(8), TopP(0.7)],
}
res = {}
for name, procs in cases.items():
    s = scores.clone()
    for p in procs: s = p(ids, s)
    res[name] = s
out["processed"] = res
`;

let dir: string;
let model: LlamaForCausalLM;
let py: Record<string, PyValue>;

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "tessera-generate-"));
  py = runPython(PY, { model_dir: dir });
  model = LlamaForCausalLM.from_pretrained(dir);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const t = (k: string): Tensor => py[k] as Tensor;
const single = (): Tensor => torch.tensor([[5, 17, 33, 2, 71, 40, 9]], { dtype: torch.int64 });
const batch = (): Tensor =>
  torch.tensor(
    [
      [5, 17, 33, 2, 71, 40, 9],
      [0, 0, 0, 8, 60, 12, 44],
      [0, 0, 0, 0, 0, 3, 90],
    ],
    { dtype: torch.int64 },
  );
const mask = (): Tensor =>
  torch
    .arange(7)
    .ge(torch.tensor([[0], [3], [5]], { dtype: torch.int64 }))
    .to(torch.int64);

function sameTokens(actual: Tensor, expected: Tensor, msg: string): void {
  assert.deepEqual(actual.tolist(), expected.tolist(), msg);
}

function quiet<T>(f: () => T): { value: T; warnings: string[] } {
  const warnings: string[] = [];
  const orig = console.warn;
  console.warn = (...a: unknown[]) => void warnings.push(a.join(" "));
  try {
    return { value: f(), warnings };
  } finally {
    console.warn = orig;
  }
}

test("greedy, one prompt, 20 tokens, with and without the KV cache", () => {
  for (const use_cache of [true, false]) {
    const out = model.generate(single(), { max_new_tokens: 20, do_sample: false, use_cache });
    assert.deepEqual(out.shape, [1, 27]);
    sameTokens(out, t(use_cache ? "greedy_single" : "greedy_single_nocache"), `use_cache=${use_cache}`);
  }
});

test("greedy, 3 left-padded prompts, with and without the KV cache", () => {
  for (const use_cache of [true, false]) {
    const out = model.generate(batch(), { attention_mask: mask(), max_new_tokens: 20, do_sample: false, pad_token_id: 0, use_cache });
    sameTokens(out, t(use_cache ? "greedy_batch" : "greedy_batch_nocache"), `use_cache=${use_cache}`);
  }
});

test("eos: a finished row is filled with pad_token_id; generation ends when every row is finished", () => {
  const one = model.generate(batch(), {
    attention_mask: mask(),
    max_new_tokens: 20,
    pad_token_id: 0,
    eos_token_id: [py.eos_a as number, 95],
  });
  sameTokens(one, t("eos_batch"), "one row stops");
  const all = model.generate(batch(), {
    attention_mask: mask(),
    max_new_tokens: 20,
    pad_token_id: 1,
    eos_token_id: py.eos_all as number[],
  });
  sameTokens(all, t("eos_all_batch"), "all rows stop");
  assert.ok(all.shape[1] < 27, `expected an early stop, got length ${all.shape[1]}`);
});

test("no max_new_tokens and no eos: HF 5.x default of 20 new tokens applies, with a warning", () => {
  const { value, warnings } = quiet(() => model.generate(single()));
  assert.deepEqual(value.shape, [1, 27]);
  sameTokens(value, t("default_length"), "default max_length");
  assert.ok(
    warnings.some((w) => w.includes("default `max_length` (=20) to control the generation length (20 new tokens)")),
    `warnings: ${JSON.stringify(warnings)}`,
  );
  assert.throws(() => model.generate(single(), { max_length: 7 }), /input length of input_ids is 7, but `max_length` is set to 7/);
});

test("seeded sampling draws the same tokens as HF (same processors, same torch.multinomial calls)", () => {
  torch.manual_seed(1234);
  const opts: GenerateOptions = {
    attention_mask: mask(),
    max_new_tokens: 15,
    do_sample: true,
    temperature: 0.7,
    top_k: 12,
    top_p: 0.9,
    repetition_penalty: 1.3,
    pad_token_id: 0,
  };
  sameTokens(model.generate(batch(), opts), t("sample_batch"), "sampling with every warper");
  torch.manual_seed(99);
  sameTokens(model.generate(single(), { max_new_tokens: 15, do_sample: true, top_k: 0 }), t("sample_plain"), "plain multinomial");
});

function listOf(...ps: LogitsProcessor[]): LogitsProcessorList {
  const list = new LogitsProcessorList();
  list.push(...ps);
  return list;
}

test("logits processors equal HF's on fixed scores", () => {
  const cases: Record<string, LogitsProcessorList> = {
    rep: listOf(new RepetitionPenaltyLogitsProcessor(1.3)),
    rep_below_one: listOf(new RepetitionPenaltyLogitsProcessor(0.6)),
    temp: listOf(new TemperatureLogitsWarper(0.7)),
    topk: listOf(new TopKLogitsWarper(5)),
    topk_big: listOf(new TopKLogitsWarper(100)),
    topp: listOf(new TopPLogitsWarper(0.8)),
    topp_small: listOf(new TopPLogitsWarper(0.01)),
    topp_keep3: listOf(new TopPLogitsWarper(0.05, -Infinity, 3)),
    combined: get_logits_processor({ do_sample: true, repetition_penalty: 1.2, temperature: 0.5, top_k: 8, top_p: 0.7 }),
  };
  const expected = py.processed as Record<string, Tensor>;
  for (const [name, procs] of Object.entries(cases)) {
    assertClose(procs.call(t("ids"), t("scores").clone()), expected[name], { msg: name, rtol: 0, atol: 0 });
  }
  assert.deepEqual(
    [...cases.combined].map((p) => p.constructor.name),
    ["RepetitionPenaltyLogitsProcessor", "TemperatureLogitsWarper", "TopKLogitsWarper", "TopPLogitsWarper"],
  );
});

test("bad input gets a clear error", () => {
  assert.throws(
    () => model.generate(torch.tensor([1, 2, 3], { dtype: torch.int64 }), { max_new_tokens: 2 }),
    /input_ids must be 2-D.*unsqueeze\(0\)/,
  );
  assert.throws(() => model.generate(single().to(torch.float32), { max_new_tokens: 2 }), /integer token ids/);
  assert.throws(
    () => model.generate(single(), { max_new_tokens: 2, attention_mask: torch.ones(1, 3) }),
    /attention_mask shape \[1, 3\] must equal input_ids shape \[1, 7\]/,
  );
  assert.throws(() => model.generate(single(), { max_new_tokens: 0 }), /max_new_tokens must be a positive integer/);
  assert.throws(
    () => model.generate(single(), { max_new_tokens: 2, do_sample: true, temperature: 0 }),
    /temperature.*strictly positive.*do_sample=False/,
  );
  assert.throws(() => model.generate(single(), { max_new_tokens: 2, num_beams: 4 }), /beam search is not supported/);
  assert.throws(() => new TopKLogitsWarper(0), /top_k.*strictly positive integer/);
  assert.throws(() => new TopPLogitsWarper(1.5), /top_p/);
});

test("a streamer gets the prompt, then each step's tokens, then end()", () => {
  const puts: number[][][] = [];
  let ended = 0;
  const out = model.generate(batch(), {
    attention_mask: mask(),
    max_new_tokens: 4,
    pad_token_id: 0,
    streamer: { put: (v) => void puts.push((v.dim() === 1 ? v.unsqueeze(1) : v).tolist() as number[][]), end: () => void ended++ },
  });
  assert.equal(ended, 1);
  assert.equal(puts.length, 5);
  const rebuilt = puts[0].map((row, r) => [...row, ...puts.slice(1).map((p) => p[r][0])]);
  assert.deepEqual(rebuilt, out.tolist());
  const steps: number[][] = [];
  model.generate(single(), { max_new_tokens: 3, streamer: (next) => void steps.push(next.tolist() as number[]) });
  assert.equal(steps.length, 3, "the callback form sees only the new tokens");
  assert.ok(steps.every((s) => s.length === 1));
});
