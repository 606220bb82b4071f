// Llama (2- and 3-style), Mistral, Qwen2 and GPT-2 against Python transformers: tiny random models
// saved by HF (safetensors, sharded safetensors, pytorch_model.bin) load in tessera with equal
// logits, losses and gradients on a padded batch; a checkpoint tessera saves loads in HF.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { torch } from "../../src/index.js";
import type { Tensor } from "../../src/torch/tensor.js";
import { AutoConfig, AutoModelForCausalLM, DynamicCache, type CausalLM } from "../../src/transformers/index.js";
import { assertClose, runPython, type PyValue } from "../helpers/oracle.js";
import { assertCloseOnTokens, tempDir, tokenBatch } from "./helpers/batch.js";

const VOCAB = 128;
const root = tempDir("hf-models");
const batch = tokenBatch(VOCAB);
after(() => rmSync(root, { recursive: true, force: true }));

const GRADS: Record<string, string[]> = {
  llama: ["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.1.mlp.down_proj.weight"],
  gpt2: ["transformer.wte.weight", "transformer.h.0.attn.c_attn.weight", "transformer.h.1.mlp.c_fc.weight"],
};
const CASES: Record<string, { grads: string[]; files: string }> = {
  llama2: { grads: GRADS.llama, files: "model.safetensors" },
  llama3: { grads: GRADS.llama, files: "model.safetensors.index.json" },
  mistral: { grads: GRADS.llama, files: "pytorch_model.bin" },
  qwen2: { grads: GRADS.llama, files: "model.safetensors" },
  gpt2: { grads: GRADS.gpt2, files: "model.safetensors" },
};

const MAKE = String.raw`
import transformers
from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM, GPT2Config, GPT2LMHeadModel
transformers.logging.set_verbosity_error()
base = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, vocab_size=128, intermediate_size=128)
llama3_rope = dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0, original_max_position_embeddings=16)
cases = {
    "llama2": (LlamaConfig(**base, rope_theta=10000.0), LlamaForCausalLM, {}),
    "llama3": (LlamaConfig(**base, rope_theta=500000.0, rope_scaling=llama3_rope, tie_word_embeddings=True), LlamaForCausalLM, {"max_shard_size": "40KB"}),
    "mistral": (MistralConfig(**base, sliding_window=4), MistralForCausalLM, {}),
    "qwen2": (Qwen2Config(**base), Qwen2ForCausalLM, {}),
    "gpt2": (GPT2Config(n_embd=64, n_layer=2, n_head=4, vocab_size=128, n_positions=64, bos_token_id=1, eos_token_id=2), GPT2LMHeadModel, {}),
}
for name, (cfg, cls, save) in cases.items():
    torch.manual_seed(0)
    m = cls(cfg).eval()
    with torch.no_grad():
        # Random biases and norm weights too, so every parameter matters.
        for p in m.parameters(): p.add_(torch.randn_like(p) * 0.05)
    m.save_pretrained(os.path.join(root, name), **save)
    if name == "mistral":
        # HF 5 writes only safetensors; older checkpoints are a torch.save'd state dict.
        os.remove(os.path.join(root, name, "model.safetensors"))
        torch.save(m.state_dict(), os.path.join(root, name, "pytorch_model.bin"))
    a = m(ids, labels=ids)
    b = m(ids, attention_mask=mask, labels=labels)
    c = m(ids, attention_mask=mask, position_ids=position_ids)
    (a.loss + b.loss).backward()
    out[name] = {"logits": a.logits, "loss": a.loss, "logits_padded": b.logits, "loss_padded": b.loss, "logits_pos": c.logits,
                 "grads": [m.get_parameter(n).grad for n in grads[name]]}
`;

const expected = runPython(MAKE, {
  root,
  ids: batch.ids,
  mask: batch.mask,
  labels: batch.labels,
  position_ids: batch.position_ids,
  grads: Object.fromEntries(Object.entries(CASES).map(([k, v]) => [k, v.grads])),
}) as Record<string, Record<string, PyValue>>;

const T = (v: PyValue): Tensor => v as Tensor;
const loaded = new Map<string, CausalLM>();

for (const [name, { grads, files }] of Object.entries(CASES)) {
  test(`${name}: HF checkpoint (${files}) loads with HF's logits, losses and gradients`, () => {
    assert.ok(existsSync(path.join(root, name, files)), `HF wrote ${files}`);
    const model = AutoModelForCausalLM.from_pretrained(path.join(root, name));
    loaded.set(name, model);
    const exp = expected[name];
    const a = model.forward(batch.ids, { labels: batch.ids });
    assertClose(a.logits, T(exp.logits), { rtol: 1e-4, atol: 1e-5, msg: `${name} logits` });
    assertClose(a.loss!, T(exp.loss), { rtol: 1e-5, atol: 0, msg: `${name} loss` });
    assert.equal(a[0], a.loss, "out[0] is the loss when labels are given");
    const b = model.forward(batch.ids, { attention_mask: batch.mask, labels: batch.labels });
    assertCloseOnTokens(b.logits, T(exp.logits_padded), batch.mask, { rtol: 1e-4, atol: 1e-5, msg: `${name} padded logits` });
    assertClose(b.loss!, T(exp.loss_padded), { rtol: 1e-5, atol: 0, msg: `${name} padded loss` });
    const c = model.forward(batch.ids, { attention_mask: batch.mask, position_ids: batch.position_ids });
    assert.equal(c[0], c.logits, "out[0] is the logits without labels");
    assertCloseOnTokens(c.logits, T(exp.logits_pos), batch.mask, {
      rtol: 1e-4,
      atol: 1e-5,
      msg: `${name} left-padded logits with position_ids`,
    });
    a.loss!.add(b.loss!).backward();
    grads.forEach((g, i) =>
      assertClose(model.get_parameter(g).grad!, T((exp.grads as PyValue[])[i]), { rtol: 1e-4, atol: 1e-6, msg: `${name} grad ${g}` }),
    );
  });
}

test("llama3: rope_scaling llama3, GQA and tied embeddings come from the HF config", () => {
  const config = AutoConfig.from_pretrained(path.join(root, "llama3")) as unknown as {
    rope_parameters: { rope_type: string; factor: number };
    num_key_value_heads: number;
    tie_word_embeddings: boolean;
  };
  assert.equal(config.rope_parameters.rope_type, "llama3");
  assert.equal(config.rope_parameters.factor, 8);
  assert.equal(config.num_key_value_heads, 2);
  const model = loaded.get("llama3")!;
  assert.equal(model.get_output_embeddings()!.weight, model.get_input_embeddings().weight, "lm_head shares embed_tokens' Parameter");
});

test("DynamicCache: prefix plus token-by-token decoding matches the full forward (incl. Mistral's sliding window)", () => {
  torch.no_grad(() => {
    for (const name of ["llama3", "mistral", "gpt2"]) {
      const model = loaded.get(name)!;
      const ids = batch.ids;
      const full = model.forward(ids).logits;
      const cache = new DynamicCache();
      const first = model.forward(ids.narrow(1, 0, 6), { past_key_values: cache, use_cache: true });
      assert.equal(first.past_key_values, cache);
      const steps = [first.logits];
      for (let t = 6; t < 10; t++) steps.push(model.forward(ids.narrow(1, t, 1), { past_key_values: cache }).logits);
      assert.equal(cache.get_seq_length(), 10);
      assertClose(torch.cat(steps, 1), full, { rtol: 1e-4, atol: 1e-5, msg: `${name} cached decoding` });
      const embeds = model.get_input_embeddings().forward(ids);
      assertClose(model.forward(null, { inputs_embeds: embeds }).logits, full, { rtol: 1e-5, atol: 1e-6, msg: `${name} inputs_embeds` });
    }
  });
});

test("named_modules and state_dict keys are HF's", () => {
  const llama = loaded.get("llama2")!;
  const names = new Set([...llama.named_modules()].map(([n]) => n));
  for (const n of ["model.layers.0.self_attn.q_proj", "model.layers.1.mlp.gate_proj", "lm_head"]) assert.ok(names.has(n), n);
  const hfKeys = JSON.parse(readFileSync(path.join(root, "qwen2", "config.json"), "utf8")) as Record<string, unknown>;
  assert.equal(hfKeys.model_type, "qwen2");
  const qwen = Object.keys(loaded.get("qwen2")!.state_dict());
  for (const k of ["model.layers.0.self_attn.q_proj.bias", "model.layers.0.self_attn.k_proj.bias"]) assert.ok(qwen.includes(k), k);
  assert.ok(!qwen.includes("model.layers.0.self_attn.o_proj.bias"));
  assert.equal(
    llama.num_parameters(),
    [...llama.parameters()].reduce((n, p) => n + p.numel(), 0),
  );
});

test("tessera's save_pretrained (sharded safetensors) loads in HF transformers with the same logits", () => {
  const saved: Record<string, PyValue> = {};
  for (const name of ["llama3", "qwen2", "gpt2"]) {
    const dir = path.join(root, `tessera-${name}`);
    const model = loaded.get(name)!;
    model.save_pretrained(dir, { max_shard_size: "30KB" });
    const files = readdirSync(dir);
    assert.ok(
      files.includes("model.safetensors.index.json") && files.includes("config.json") && files.includes("generation_config.json"),
      files.join(","),
    );
    const index = JSON.parse(readFileSync(path.join(dir, "model.safetensors.index.json"), "utf8")) as {
      weight_map: Record<string, string>;
    };
    if (name !== "qwen2") assert.ok(!("lm_head.weight" in index.weight_map), "a tied lm_head is not stored");
    saved[name] = torch.no_grad(() => model.forward(batch.ids, { attention_mask: batch.mask }).logits);
  }
  const hf = runPython(
    String.raw`
import transformers
transformers.logging.set_verbosity_error()
for name in saved:
    m = transformers.AutoModelForCausalLM.from_pretrained(os.path.join(root, "tessera-" + name)).eval()
    out[name] = m(ids, attention_mask=mask).logits
`,
    { root, ids: batch.ids, mask: batch.mask, saved },
  );
  for (const name of Object.keys(saved))
    assertCloseOnTokens(T(saved[name]), T(hf[name]), batch.mask, { rtol: 1e-4, atol: 1e-5, msg: `${name} HF logits` });
});
