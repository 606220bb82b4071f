// from_config / from_pretrained / save_pretrained without Python: HF's weight init, dtype and
// device at load, pytorch_model.bin, generation_config.json — and a clear error for each kind of
// bad checkpoint (missing folder, config or weights, unknown model_type, wrong shape, missing
// weight, truncated shard).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import { torch } from "../../src/index.js";
import { load_file, save_file } from "../../src/torch/serialization/index.js";
import {
  AutoConfig,
  AutoModelForCausalLM,
  GPT2Config,
  GPT2LMHeadModel,
  LlamaConfig,
  LlamaForCausalLM,
} from "../../src/transformers/index.js";
import { assertClose, repoRoot } from "../helpers/oracle.js";
import { tempDir } from "./helpers/batch.js";

const root = tempDir("checkpoints");
after(() => rmSync(root, { recursive: true, force: true }));

const tiny = {
  hidden_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 128,
  intermediate_size: 128,
  pad_token_id: 0,
  initializer_range: 0.02,
};
torch.manual_seed(0);
const model = LlamaForCausalLM.from_config(new LlamaConfig(tiny));
const good = path.join(root, "good");
model.save_pretrained(good);
const ids = torch.arange(12).reshape(2, 6);
const reference = torch.no_grad(() => model.forward(ids).logits);

/** A copy of the good checkpoint with `change` applied to its state dict. */
function variant(name: string, change: (sd: Record<string, torch.Tensor>) => void): string {
  const dir = path.join(root, name);
  mkdirSync(dir);
  writeFileSync(path.join(dir, "config.json"), readFileSync(path.join(good, "config.json")));
  const sd = load_file(path.join(good, "model.safetensors"));
  change(sd);
  save_file(sd, path.join(dir, "model.safetensors"), { format: "pt" });
  return dir;
}

test("from_config: HF's _init_weights (N(0, initializer_range), zero padding row, unit norms)", () => {
  const w = (model.model.layers[0].self_attn as unknown as { q_proj: torch.nn.Linear }).q_proj.weight;
  assert.ok(Math.abs(w.std().item() - 0.02) < 0.002, `std ${w.std().item()}`);
  assert.equal(model.model.embed_tokens.weight.select(0, 0).abs().sum().item(), 0);
  assert.ok(model.model.norm.weight!.eq(1).all().item());
  assert.equal(model.num_parameters(), 128 * 64 * 2 + 2 * (64 * 64 * 2 + 64 * 32 * 2 + 3 * 64 * 128 + 2 * 64) + 64);
  model.model.embed_tokens.weight.requires_grad_(false);
  assert.equal(model.num_parameters({ only_trainable: true }), model.num_parameters() - 128 * 64);
  model.model.embed_tokens.weight.requires_grad_(true);
});

test("from_pretrained: dtype and device chosen at load; safetensors round trip is exact", () => {
  const again = AutoModelForCausalLM.from_pretrained(good, { device: "cpu" });
  assertClose(
    torch.no_grad(() => again.forward(ids).logits),
    reference,
    { rtol: 0, atol: 0, msg: "reloaded logits" },
  );
  assert.equal(again.training, false, "from_pretrained returns the model in eval mode");
  const bf16 = AutoModelForCausalLM.from_pretrained(good, { torch_dtype: torch.bfloat16 });
  assert.equal(bf16.dtype, torch.bfloat16);
  assert.ok([...bf16.parameters()].every((p) => p.dtype === torch.bfloat16 && p.device.type === "cpu"));
  assertClose(
    torch.no_grad(() => bf16.forward(ids).logits.float()),
    reference,
    { rtol: 0.05, atol: 0.05, msg: "bf16 logits" },
  );
  // "auto" takes the dtype the checkpoint's config names.
  const config = JSON.parse(readFileSync(path.join(good, "config.json"), "utf8")) as { dtype: string };
  assert.equal(config.dtype, "float32");
  assert.equal(AutoModelForCausalLM.from_pretrained(good, { torch_dtype: "auto" }).dtype, torch.float32);
});

test("save_pretrained(safe_serialization=false) writes pytorch_model.bin that loads back", () => {
  const dir = path.join(root, "bin");
  model.save_pretrained(dir, { safe_serialization: false });
  assert.ok(existsSync(path.join(dir, "pytorch_model.bin")));
  const again = LlamaForCausalLM.from_pretrained(dir);
  assertClose(
    torch.no_grad(() => again.forward(ids).logits),
    reference,
    { rtol: 0, atol: 0, msg: "bin logits" },
  );
});

test("generation_config.json and config.json round trip; GPT-2 keys stay GPT-2's", () => {
  const dir = path.join(root, "gpt2");
  const gpt2 = GPT2LMHeadModel.from_config(
    new GPT2Config({ n_embd: 32, n_layer: 1, n_head: 2, vocab_size: 64, n_positions: 16, bos_token_id: 5, eos_token_id: 6 }),
  );
  gpt2.generation_config.max_new_tokens = 7;
  gpt2.save_pretrained(dir);
  const cfg = JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8")) as Record<string, unknown>;
  assert.equal(cfg.n_embd, 32);
  assert.equal(cfg.hidden_size, undefined);
  assert.deepEqual(cfg.architectures, ["GPT2LMHeadModel"]);
  const again = AutoModelForCausalLM.from_pretrained(dir);
  assert.equal(again.generation_config.max_new_tokens, 7);
  assert.equal(again.generation_config.eos_token_id, 6);
  assert.equal(AutoConfig.from_pretrained(dir).model_type, "gpt2");
  assert.equal(again.get_output_embeddings()!.weight, again.get_input_embeddings().weight);
  assert.throws(
    () => again.forward(torch.zeros(1, 17, { dtype: torch.int64 })),
    /17 positions \(0 cached \+ 17 new\) exceed n_positions = 16/,
  );
});

test("bad checkpoints: each a clear error naming what and where", () => {
  const missing = path.join(root, "nope");
  assert.throws(
    () => AutoModelForCausalLM.from_pretrained(missing),
    (e: Error) => e.message.includes(`${missing} is not a folder, nor a hub id`),
  );

  const noConfig = path.join(root, "no-config");
  mkdirSync(noConfig);
  assert.throws(() => AutoModelForCausalLM.from_pretrained(noConfig), new RegExp(`${noConfig} has no config\\.json`));

  const noWeights = path.join(root, "no-weights");
  mkdirSync(noWeights);
  writeFileSync(path.join(noWeights, "config.json"), readFileSync(path.join(good, "config.json")));
  assert.throws(
    () => AutoModelForCausalLM.from_pretrained(noWeights),
    (e: Error) => e.message.includes(noWeights) && /model\.safetensors.*pytorch_model\.bin/.test(e.message),
  );

  const badJson = path.join(root, "bad-json");
  mkdirSync(badJson);
  writeFileSync(path.join(badJson, "config.json"), "{ not json");
  assert.throws(() => AutoConfig.from_pretrained(badJson), /config\.json is not valid JSON/);

  const unknown = path.join(root, "unknown-type");
  mkdirSync(unknown);
  writeFileSync(path.join(unknown, "config.json"), JSON.stringify({ model_type: "bert" }));
  assert.throws(
    () => AutoModelForCausalLM.from_pretrained(unknown),
    /model_type "bert" is not supported \(supported: llama, mistral, qwen2, baichuan, gpt2\)/,
  );

  const wrongShape = variant("wrong-shape", (sd) => {
    sd["model.layers.1.mlp.up_proj.weight"] = torch.zeros(100, 64);
  });
  assert.throws(
    () => AutoModelForCausalLM.from_pretrained(wrongShape),
    /size mismatch for model\.layers\.1\.mlp\.up_proj\.weight .*torch\.Size\(\[100, 64\]\).*torch\.Size\(\[128, 64\]\)/,
  );

  // Old Llama checkpoints carry RoPE buffers; they are ignored as HF does.
  const withInvFreq = variant("inv-freq", (sd) => {
    sd["model.layers.0.self_attn.rotary_emb.inv_freq"] = torch.ones(8);
  });
  assertClose(
    torch.no_grad(() => AutoModelForCausalLM.from_pretrained(withInvFreq).forward(ids).logits),
    reference,
    { rtol: 0, atol: 0, msg: "inv_freq ignored" },
  );

  const missingWeight = variant("missing-weight", (sd) => {
    delete sd["model.layers.0.self_attn.k_proj.weight"];
  });
  assert.throws(
    () => AutoModelForCausalLM.from_pretrained(missingWeight),
    /weights missing from the checkpoint: model\.layers\.0\.self_attn\.k_proj\.weight$/,
  );

  const sharded = path.join(root, "truncated");
  model.save_pretrained(sharded, { max_shard_size: "40KB" });
  const index = JSON.parse(readFileSync(path.join(sharded, "model.safetensors.index.json"), "utf8")) as {
    weight_map: Record<string, string>;
  };
  const shard = path.join(sharded, index.weight_map["model.layers.0.mlp.up_proj.weight"]);
  truncateSync(shard, statSync(shard).size - 100);
  assert.throws(
    () => AutoModelForCausalLM.from_pretrained(sharded),
    (e: Error) => e.message.includes(shard) && /truncated/.test(e.message),
  );

  rmSync(shard);
  assert.throws(() => AutoModelForCausalLM.from_pretrained(sharded), new RegExp(`shard ${shard} is missing`));
});

test("published configs (HF 4 spelling, copied from the model repos) build on the meta device with the published parameter counts", () => {
  const published: Record<string, number> = {
    "Llama-2-7b-hf": 6_738_415_616,
    "Llama-2-13b-hf": 13_015_864_320,
    "Meta-Llama-3-8B": 8_030_261_248,
    "Mistral-7B-v0.1": 7_241_732_096,
    "Qwen2-7B": 7_615_616_512,
    "Baichuan2-7B-Base": 7_505_973_248,
    "Baichuan2-13B-Base": 13_896_668_160,
  };
  for (const [name, count] of Object.entries(published)) {
    const d = JSON.parse(readFileSync(path.join(repoRoot, "test", "transformers", "helpers", "configs", `${name}.json`), "utf8")) as Record<
      string,
      unknown
    >;
    const config = AutoConfig.for_model(d.model_type as string, d);
    const m = AutoModelForCausalLM.from_config(config, { device: "meta" });
    assert.equal(m.num_parameters(), count, name);
    assert.equal(m.device.type, "meta");
  }
});
