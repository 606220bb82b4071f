// Test tokenizers, trained once per test file by Python `tokenizers` and `sentencepiece` on a small
// multilingual corpus, in the same Python call that computes the oracle's expected values.
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { runPython, type PyValue } from "../helpers/oracle.js";

/** Texts every tokenizer is checked on: English, Chinese, code, emoji, odd whitespace, accents. */
export const TEXTS = [
  "Hello, world! The quick brown fox jumps over the lazy dog.",
  "机器学习是人工智能的一个分支。我们使用分词器。",
  "def train(model, data):\n    for batch in data:\n        loss = model(batch)  # 损失\n    return loss.item()",
  "Emoji time 🎉🚀🙂 and a unicorn 🦄 never seen in training",
  "   Extra   whitespace\tand\ttabs   \n\n",
  "Café naïve résumé façade jalapeño Über crème brûlée — ÀÉÎÕÜ",
  "ＡＢＣ１２３ ﬁ ① Zürich «quotes» „test“ 𝔘𝔫𝔦",
  "",
  " ",
  "numbers 12345 67890 3.14159 and <s> special </s> markers <tool>call",
];

const CORPUS_LINES = [
  "The quick brown fox jumps over the lazy dog. Tokenizers split text into pieces.",
  "Hello, world! This is a small corpus for training byte-pair encodings and unigram models.",
  "def train(model, data):",
  "    for batch in data:",
  "        loss = model(batch)",
  "    return loss.item()  # 返回损失",
  "机器学习是人工智能的一个分支。我们使用分词器把文本切分成词元。今天天气很好，我们去公园散步吧。",
  "Café, naïve, résumé, façade, jalapeño, Über, crème brûlée — accents everywhere.",
  "Emoji time 🎉🚀🙂 and numbers 12345 67890 3.14159.",
  "   Extra   whitespace\tand\ttabs   here.   ",
];

/** Folder names under the fixture root, one per tokenizer. */
export const KINDS = {
  bytelevel: "bytelevel_bpe", // tokenizer.json, GPT-2/Llama-3 style byte-level BPE
  metaspace: "metaspace_bpe", // tokenizer.json, Llama-2 style (▁, byte_fallback), converted from spm_bpe
  spmBpe: "spm_bpe", // tokenizer.model, sentencepiece BPE with byte_fallback, identity normalizer (Llama 2)
  spmUnigram: "spm_unigram", // tokenizer.model, sentencepiece unigram, default nmt_nfkc normalizer
} as const;

const TRAIN = String.raw`
import os, json
import sentencepiece as spm
from tokenizers import Tokenizer, AddedToken, models, normalizers, pre_tokenizers, decoders, trainers, processors
from transformers.tokenization_utils_base import generate_merges
root = fixture_root
lines = corpus_lines * 8
def folder(name):
    d = os.path.join(root, name); os.makedirs(d, exist_ok=True); return d
def write_config(d, cfg):
    json.dump(cfg, open(os.path.join(d, "tokenizer_config.json"), "w"))

# (a) byte-level BPE
d = folder("bytelevel_bpe")
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
tok.post_processor = processors.TemplateProcessing(single="<|begin|> $A", special_tokens=[("<|begin|>", 0)])
tok.train_from_iterator(lines, trainers.BpeTrainer(vocab_size=600, special_tokens=["<|begin|>", "<|end|>", "<|pad|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
tok.save(os.path.join(d, "tokenizer.json"))
write_config(d, {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|begin|>", "eos_token": "<|end|>", "clean_up_tokenization_spaces": False,
  "chat_template": "{% for m in messages %}<|begin|>{{ m['role'] }}\n{{ m['content'] }}<|end|>\n{% endfor %}{% if add_generation_prompt %}<|begin|>assistant\n{% endif %}"})

# (c) sentencepiece models; Llama 2's normalizer is identity and keeps extra whitespace.
common = dict(sentence_iterator=iter(lines), vocab_size=400, byte_fallback=True, unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2, character_coverage=0.9995)
d = folder("spm_bpe")
spm.SentencePieceTrainer.train(model_prefix=os.path.join(d, "m"), model_type="bpe", normalization_rule_name="identity", remove_extra_whitespaces=False, user_defined_symbols=["<tool>"], **common)
os.rename(os.path.join(d, "m.model"), os.path.join(d, "tokenizer.model"))
write_config(d, {"tokenizer_class": "LlamaTokenizer", "add_bos_token": True, "add_eos_token": False, "legacy": True})
common["sentence_iterator"] = iter(lines)
d = folder("spm_unigram")
spm.SentencePieceTrainer.train(model_prefix=os.path.join(d, "m"), model_type="unigram", **common)
os.rename(os.path.join(d, "m.model"), os.path.join(d, "tokenizer.model"))
write_config(d, {"tokenizer_class": "BaichuanTokenizer", "add_bos_token": True, "add_eos_token": True})

# (b) Llama-2 style tokenizer.json from the sentencepiece BPE model, as transformers' LlamaConverter builds it.
sp = spm.SentencePieceProcessor(model_file=os.path.join(root, "spm_bpe", "tokenizer.model"))
vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
scores = {sp.id_to_piece(i): sp.get_score(i) for i in range(sp.get_piece_size())}
tok = Tokenizer(models.BPE(vocab, generate_merges(vocab, scores), unk_token="<unk>", byte_fallback=True, fuse_unk=True))
tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in ["<unk>", "<s>", "</s>"]])
tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
d = folder("metaspace_bpe")
tok.save(os.path.join(d, "tokenizer.json"))
write_config(d, {"tokenizer_class": "LlamaTokenizerFast", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "clean_up_tokenization_spaces": False})
`;

/** Trains the four tokenizers into a fresh temp folder, then runs `oracle` (with `root` bound) in the same Python process. */
export function trainAndRun(oracle: string, inputs: Record<string, PyValue> = {}): { root: string; out: Record<string, PyValue> } {
  const root = mkdtempSync(path.join(os.tmpdir(), "tessera-tok-"));
  const out = runPython(`${TRAIN}\n${oracle}`, { ...inputs, fixture_root: root, corpus_lines: CORPUS_LINES });
  return { root, out };
}

export function dirOf(root: string, kind: (typeof KINDS)[keyof typeof KINDS]): string {
  return path.join(root, kind);
}
