// Writes the embedded default's tokenizer: character-level over printable ASCII, as a BPE model with no
// merges (so every character is one token) and a Fuse decoder (so decode joins characters without
// spaces). Both tessera's AutoTokenizer and Python's transformers.AutoTokenizer load the folder.
// Run: node --import tsx examples/finetune/config/generate.ts
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"] as const;

function tokenizerJson(): object {
  const vocab: Record<string, number> = {};
  SPECIALS.forEach((t, i) => (vocab[t] = i));
  for (let c = 32; c < 127; c++) vocab[String.fromCharCode(c)] = SPECIALS.length + c - 32;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: null,
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }],
      special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] } },
    },
    decoder: { type: "Fuse" },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: "<unk>",
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
}

const tokenizerConfig = {
  tokenizer_class: "PreTrainedTokenizerFast",
  bos_token: "<s>",
  eos_token: "</s>",
  pad_token: "<pad>",
  unk_token: "<unk>",
  model_max_length: 64,
  padding_side: "right",
  clean_up_tokenization_spaces: false,
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = dirname(fileURLToPath(import.meta.url));
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tokenizerJson(), null, 2) + "\n");
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(tokenizerConfig, null, 2) + "\n");
  console.log(`wrote tokenizer.json and tokenizer_config.json to ${dir}`);
}
