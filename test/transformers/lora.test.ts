// LoRA vs Python peft: trainable counts, PEFT's state-dict names, seeded init, adapters saved by each
// side loading in the other with the same logits, merge_and_unload, and the no-match error.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { torch } from "../../src/index.js";
import type { Tensor } from "../../src/torch/tensor.js";
import { Linear } from "../../src/torch/nn/index.js";
import {
  LlamaForCausalLM,
  LoraConfig,
  LoraLinear,
  PeftModel,
  get_peft_model,
  type CausalLMOutputWithPast,
} from "../../src/transformers/index.js";
import { assertClose, runPython, type PyValue } from "../helpers/oracle.js";

const SETUP = String.raw`
from transformers import LlamaConfig, LlamaForCausalLM
from peft import LoraConfig, get_peft_model
torch.manual_seed(0)
cfg = LlamaConfig(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=128, initializer_range=0.3, tie_word_embeddings=False)
LlamaForCausalLM(cfg).save_pretrained(base_dir)
base = lambda: LlamaForCausalLM.from_pretrained(base_dir).eval()
ids = torch.tensor([[5, 17, 33, 2, 71, 40, 9], [8, 60, 12, 44, 1, 3, 90]])
out["base_logits"] = base()(ids).logits
counts = {}
for name, tm in {"qv": ["q_proj", "v_proj"], "all": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                 "regex": r".*\.mlp\.(up|down)_proj", "all_linear": "all-linear", "default": None}.items():
    pm = get_peft_model(base(), LoraConfig(r=4, lora_alpha=8, target_modules=tm, task_type="CAUSAL_LM"))
    counts[name] = list(pm.get_nb_trainable_parameters())
out["counts"] = counts
torch.manual_seed(7)
pm = get_peft_model(base(), LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"], task_type="CAUSAL_LM"))
out["keys"] = list(pm.state_dict().keys())
out["seeded_A"] = pm.base_model.model.model.layers[1].mlp.down_proj.lora_A["default"].weight
torch.manual_seed(11)
with torch.no_grad():
    for n, p in pm.named_parameters():
        if "lora_B" in n: p.normal_(0, 0.5)
pm.save_pretrained(py_adapter)
pm.eval()
out["py_lora_logits"] = pm(ids).logits
out["py_merged_logits"] = pm.merge_and_unload()(ids).logits
from safetensors.torch import load_file
out["py_saved_keys"] = sorted(load_file(py_adapter + "/adapter_model.safetensors").keys())
`;

const LOAD_TESSERA_ADAPTER = String.raw`
from transformers import LlamaForCausalLM
from peft import PeftModel
from safetensors.torch import load_file
ids = torch.tensor([[5, 17, 33, 2, 71, 40, 9], [8, 60, 12, 44, 1, 3, 90]])
pm = PeftModel.from_pretrained(LlamaForCausalLM.from_pretrained(base_dir).eval(), ts_adapter).eval()
out["logits"] = pm(ids).logits
out["merged_logits"] = pm.merge_and_unload()(ids).logits
out["saved_keys"] = sorted(load_file(ts_adapter + "/adapter_model.safetensors").keys())
`;

let dir: string;
let py: Record<string, PyValue>;
const baseDir = (): string => path.join(dir, "base");
const ids = (): Tensor =>
  torch.tensor(
    [
      [5, 17, 33, 2, 71, 40, 9],
      [8, 60, 12, 44, 1, 3, 90],
    ],
    { dtype: torch.int64 },
  );
const logits = (m: { forward(...a: unknown[]): unknown }): Tensor =>
  torch.no_grad(() => (m.forward(ids()) as CausalLMOutputWithPast).logits);
const base = (): LlamaForCausalLM => LlamaForCausalLM.from_pretrained(baseDir());
const TOL = { rtol: 1e-4, atol: 1e-5 };

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "tessera-lora-"));
  py = runPython(SETUP, { base_dir: baseDir(), py_adapter: path.join(dir, "py_adapter") });
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("trainable-parameter counts equal PEFT's (lists, regex, all-linear, model-type default)", () => {
  const targets: Record<string, string[] | string | null> = {
    qv: ["q_proj", "v_proj"],
    all: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    regex: ".*\\.mlp\\.(up|down)_proj",
    all_linear: "all-linear",
    default: null,
  };
  const counts = py.counts as Record<string, number[]>;
  for (const [name, target_modules] of Object.entries(targets)) {
    const pm = get_peft_model(base(), new LoraConfig({ r: 4, lora_alpha: 8, target_modules, task_type: "CAUSAL_LM" }));
    assert.deepEqual(pm.get_nb_trainable_parameters(), counts[name], name);
  }
  const pm = get_peft_model(base(), new LoraConfig({ r: 4, lora_alpha: 8, target_modules: ["q_proj", "v_proj"], task_type: "CAUSAL_LM" }));
  const lines: string[] = [];
  const orig = console.log;
  console.log = (s: string) => void lines.push(s);
  try {
    pm.print_trainable_parameters();
  } finally {
    console.log = orig;
  }
  const [tr, all] = counts.qv;
  assert.deepEqual(lines, [
    `trainable params: ${tr.toLocaleString("en-US")} || all params: ${all.toLocaleString("en-US")} || trainable%: ${((100 * tr) / all).toFixed(4)}`,
  ]);
});

test("wrapped state-dict names and seeded lora_A init equal PEFT's; zero lora_B leaves the logits unchanged", () => {
  torch.manual_seed(7);
  const pm = get_peft_model(
    base(),
    new LoraConfig({ r: 4, lora_alpha: 8, target_modules: ["q_proj", "v_proj", "down_proj"], task_type: "CAUSAL_LM" }),
  );
  assert.deepEqual(Object.keys(pm.state_dict()).sort(), [...(py.keys as string[])].sort());
  assert.ok("base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight" in pm.state_dict());
  const down = pm.get_base_model().get_submodule("model.layers.1.mlp.down_proj");
  assert.ok(down instanceof LoraLinear);
  assertClose(down.lora_A.get("default").weight, py.seeded_A as Tensor, { msg: "seeded lora_A", rtol: 0, atol: 0 });
  assertClose(logits(pm), py.base_logits as Tensor, { ...TOL, msg: "zero-init lora_B" });
  assert.equal(pm.get_base_model().get_parameter("model.layers.0.self_attn.q_proj.base_layer.weight").requires_grad, false);
});

test("an adapter saved by Python peft loads in tessera with the same logits; merge_and_unload matches", () => {
  const pm = PeftModel.from_pretrained(base(), path.join(dir, "py_adapter"));
  assertClose(logits(pm), py.py_lora_logits as Tensor, { ...TOL, msg: "PEFT adapter in tessera" });
  assert.deepEqual(pm.get_nb_trainable_parameters()[0], 0, "loaded adapters are frozen unless is_trainable");
  const merged = pm.merge_and_unload();
  assert.ok(merged instanceof LlamaForCausalLM);
  assert.ok(
    [...merged.modules()].every((m) => !(m instanceof LoraLinear)),
    "no LoraLinear left after merge_and_unload",
  );
  assert.ok(merged.get_submodule("model.layers.0.self_attn.q_proj") instanceof Linear);
  assertClose(logits(merged), py.py_merged_logits as Tensor, { ...TOL, msg: "merged vs PEFT merged" });
  assertClose(logits(merged), py.py_lora_logits as Tensor, { ...TOL, msg: "merged vs unmerged" });
});

test("an adapter saved by tessera loads in Python peft with the same logits (unmerged and merged)", () => {
  const pm = get_peft_model(
    base(),
    new LoraConfig({ r: 4, lora_alpha: 16, target_modules: ["q_proj", "k_proj", "o_proj", "up_proj"], task_type: "CAUSAL_LM" }),
  );
  torch.no_grad(() => {
    for (const [n, p] of pm.named_parameters()) if (n.includes("lora_B")) p.normal_(0, 0.5);
  });
  pm.eval();
  const mine = logits(pm);
  const out = path.join(dir, "ts_adapter");
  pm.save_pretrained(out);
  const config = JSON.parse(readFileSync(path.join(out, "adapter_config.json"), "utf8")) as Record<string, unknown>;
  assert.equal(config.peft_type, "LORA");
  assert.equal(config.inference_mode, true);
  assert.deepEqual(config.target_modules, ["q_proj", "k_proj", "o_proj", "up_proj"]);
  const r = runPython(LOAD_TESSERA_ADAPTER, { base_dir: baseDir(), ts_adapter: out });
  assertClose(mine, r.logits as Tensor, { ...TOL, msg: "tessera adapter in PEFT" });
  assert.ok((r.saved_keys as string[]).includes("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"));
  assert.ok(
    (r.saved_keys as string[]).every((k) => !k.includes(".default.")),
    "adapter name stripped",
  );
  const merged = pm.merge_and_unload();
  assertClose(logits(merged), mine, { ...TOL, msg: "merged vs unmerged" });
  assertClose(logits(merged), r.merged_logits as Tensor, { ...TOL, msg: "merged vs PEFT merged" });
});

test("target_modules that match nothing: PEFT's error, listing the targets and the model's Linear names", () => {
  assert.throws(
    () => get_peft_model(base(), new LoraConfig({ target_modules: ["query", "value"] })),
    /Target modules \{'query', 'value'\} not found in the base model\. Please check the target modules and try again\. \(The model's Linear layers are named: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, lm_head\.\)/,
  );
  assert.throws(() => new LoraConfig({ r: 0 }), /`r` should be a positive integer/);
  assert.throws(() => new LoraConfig({ bias: "all" }), /NotImplementedError: LoraConfig: bias='all' is not supported/);
});
