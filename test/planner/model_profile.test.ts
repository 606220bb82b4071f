import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { test } from "node:test";
import {
  embeddingParams,
  headParams,
  layerParams,
  loadModelProfile,
  modelPreset,
  totalParams,
  trainingFlopsPerToken,
  type ModelProfile,
} from "../../src/parallel/planner/index.js";
import { configPath, repoRoot } from "./reference.js";

const families = ["Llama-2-7b-hf", "Llama-2-13b-hf", "Meta-Llama-3-8B", "Mistral-7B-v0.1", "Qwen2-7B"];

// HF's own count: the model built on the meta device (no weights), num_parameters().
const ORACLE = `
import json, sys, torch, transformers as T
out = {}
for name, spec in json.loads(sys.argv[1]).items():
    if isinstance(spec, dict):
        c, cls = T.GPT2Config(**spec), T.GPT2LMHeadModel
    else:
        cfg = {k: v for k, v in json.load(open(spec)).items() if not k.startswith("_")}
        c = T.AutoConfig.for_model(**cfg)
        cls = {"llama": T.LlamaForCausalLM, "mistral": T.MistralForCausalLM, "qwen2": T.Qwen2ForCausalLM}[cfg["model_type"]]
    with torch.device("meta"):
        out[name] = cls(c).num_parameters()
print(json.dumps(out))
`;

test("parameter counts equal HF num_parameters() for Llama, Mistral, Qwen2 (GQA) and GPT-2 (tied)", () => {
  const python = resolve(repoRoot, ".venv/bin/python");
  assert.ok(existsSync(python), `the HF oracle needs ${python} (torch + transformers), which the project's setup installs`);
  const specs: Record<string, unknown> = Object.fromEntries(families.map((f) => [f, configPath(f)]));
  specs["gpt2-medium"] = { n_embd: 1024, n_layer: 24, n_head: 16 };
  const hf = JSON.parse(execFileSync(python, ["-c", ORACLE, JSON.stringify(specs)], { encoding: "utf8" })) as Record<string, number>;
  for (const f of families) assert.equal(totalParams(loadModelProfile(configPath(f))), hf[f], f);
  assert.equal(totalParams(modelPreset("gpt2-medium")), hf["gpt2-medium"]);
  // The published counts, for the record.
  assert.equal(hf["Llama-2-7b-hf"], 6_738_415_616);
  assert.equal(hf["Meta-Llama-3-8B"], 8_030_261_248);
});

test("hand formulas: Llama-2-7B, Llama-3-8B (GQA), Qwen2 (qkv bias), GPT-2 (biases, tied), Baichuan2-13B", () => {
  const [h, f, L, V] = [4096, 11008, 32, 32000];
  assert.equal(totalParams(loadModelProfile(configPath("Llama-2-7b-hf"))), L * (4 * h * h + 3 * h * f + 2 * h) + 2 * V * h + h);
  const kv = 8 * 128;
  assert.equal(
    totalParams(loadModelProfile(configPath("Meta-Llama-3-8B"))),
    32 * (2 * h * h + 2 * h * kv + 3 * h * 14336 + 2 * h) + 2 * 128256 * h + h,
  );
  const [qh, qkv] = [3584, 4 * 128];
  assert.equal(
    totalParams(loadModelProfile(configPath("Qwen2-7B"))),
    28 * (2 * qh * qh + 2 * qh * qkv + qh + 2 * qkv + 3 * qh * 18944 + 2 * qh) + 2 * 152064 * qh + qh,
  );
  const g = 768;
  assert.equal(totalParams(modelPreset("gpt2")), 12 * (12 * g * g + 13 * g) + 50257 * g + 1024 * g + 2 * g);
  assert.equal(totalParams(modelPreset("gpt2")), 124_439_808);
  // Baichuan2 has no HF class here: W_pack (h×3h, no bias), o_proj, SwiGLU, two RMSNorms; NormHead untied.
  const [bh, bf, bL, bV] = [5120, 13696, 40, 125696];
  const baichuan = loadModelProfile(configPath("Baichuan2-13B-Base"));
  assert.equal(totalParams(baichuan), bL * (4 * bh * bh + 3 * bh * bf + 2 * bh) + 2 * bV * bh + bh);
  assert.equal(totalParams(baichuan), 13_896_668_160);
  assert.equal(totalParams(loadModelProfile(configPath("Baichuan2-7B-Base"))), 32 * (4 * h * h + 3 * h * f + 2 * h) + 2 * 125696 * h + h);
});

test("training FLOPs per token are 6N + 6·L·h·s: causal attention's lower half (N: GEMM weights incl. the output layer)", () => {
  const s = 4096;
  const cases: ModelProfile[] = [...families, "Baichuan2-13B-Base"].map((f) => loadModelProfile(configPath(f)));
  cases.push(modelPreset("gpt2-xl"));
  for (const m of cases) {
    const n = m.layers * layerParams(m).matmul + m.vocab * m.hidden;
    const attnWidth = m.heads * m.headDim;
    assert.equal(trainingFlopsPerToken(m, s), 6 * n + 6 * m.layers * attnWidth * s, m.name);
  }
  // With no biases, norms or embeddings aside, N is the usual "non-embedding + head" count.
  const llama = loadModelProfile(configPath("Llama-2-7b-hf"));
  const nonEmbedding = totalParams(llama) - embeddingParams(llama) - llama.layers * 2 * llama.hidden - llama.hidden;
  assert.equal(trainingFlopsPerToken(llama, 2048), 6 * nonEmbedding + 6 * 32 * 4096 * 2048);
  assert.equal(headParams(llama), 32000 * 4096);
});

test("profiles read the family's shape: GQA, gated vs plain MLP, tied embeddings", () => {
  const mistral = loadModelProfile(configPath("Mistral-7B-v0.1"));
  assert.deepEqual([mistral.family, mistral.kvHeads, mistral.mlp, mistral.tiedEmbeddings], ["mistral", 8, "gated", false]);
  const gpt2 = modelPreset("gpt2");
  assert.deepEqual([gpt2.mlp, gpt2.activation, gpt2.tiedEmbeddings, gpt2.ffn, gpt2.dropout], ["plain", "gelu_new", true, 3072, true]);
  assert.equal(modelPreset("Llama-2-7B").name, "llama-2-7b");
  assert.throws(() => loadModelProfile("no-such-model"), /unknown model preset 'no-such-model' \(known: llama-2-7b, /);
  assert.throws(() => loadModelProfile("/nonexistent/config.json"), /cannot read model config '\/nonexistent\/config.json'/);
});
