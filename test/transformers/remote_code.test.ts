// save_pretrained keeps a folder's remote code: the modules config.json's auto_map names and what
// they import relatively (not other .py files), with auto_map itself, so that Python's transformers
// reloads the saved folder with trust_remote_code. trust_remote_code is a typed option.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { torch } from "../../src/index.js";
import { AutoConfig, AutoModelForCausalLM, BaichuanConfig, BaichuanForCausalLM } from "../../src/transformers/index.js";
import { runPython } from "../helpers/oracle.js";
import { tempDir } from "./helpers/batch.js";

const root = tempDir("remote-code");
after(() => rmSync(root, { recursive: true, force: true }));

const AUTO_MAP = { AutoConfig: "configuration_baichuan.BaichuanConfig", AutoModelForCausalLM: "modeling_baichuan.BaichuanForCausalLM" };
const REMOTE: Record<string, string> = {
  "configuration_baichuan.py": `from transformers.configuration_utils import PretrainedConfig

class BaichuanConfig(PretrainedConfig):
    model_type = "baichuan"
    def __init__(self, hidden_size=4096, **kwargs):
        self.hidden_size = hidden_size
        super().__init__(**kwargs)
`,
  "modeling_baichuan.py": `from .configuration_baichuan import BaichuanConfig

class BaichuanForCausalLM:
    config_class = BaichuanConfig
    def chat(self):
        from .generation_utils import build_chat_input
        return build_chat_input
`,
  "generation_utils.py": "def build_chat_input():\n    return 1\n",
  "unrelated.py": "raise RuntimeError('not remote code of this model')\n",
};

test("a Baichuan folder with remote code saves with its auto_map modules and their relative imports; Python reloads it", () => {
  torch.manual_seed(0);
  const src = path.join(root, "src");
  BaichuanForCausalLM.from_config(
    new BaichuanConfig({ hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, vocab_size: 64, intermediate_size: 64 }),
  ).save_pretrained(src);
  const config = JSON.parse(readFileSync(path.join(src, "config.json"), "utf8")) as Record<string, unknown>;
  writeFileSync(path.join(src, "config.json"), JSON.stringify({ ...config, auto_map: AUTO_MAP }));
  for (const [f, code] of Object.entries(REMOTE)) writeFileSync(path.join(src, f), code);

  const model = AutoModelForCausalLM.from_pretrained(src, { trust_remote_code: true });
  const dst = path.join(root, "saved");
  model.save_pretrained(dst);
  for (const f of ["configuration_baichuan.py", "modeling_baichuan.py", "generation_utils.py"])
    assert.equal(readFileSync(path.join(dst, f), "utf8"), REMOTE[f], f);
  assert.ok(!existsSync(path.join(dst, "unrelated.py")), "a .py the auto_map does not reach is not copied");
  assert.deepEqual((JSON.parse(readFileSync(path.join(dst, "config.json"), "utf8")) as { auto_map: unknown }).auto_map, AUTO_MAP);
  // A config saved on its own carries them too.
  const cfgOnly = path.join(root, "config_only");
  AutoConfig.from_pretrained(src, { trust_remote_code: true }).save_pretrained(cfgOnly);
  assert.ok(existsSync(path.join(cfgOnly, "modeling_baichuan.py")));

  const py = runPython(`
import os
os.environ["HF_MODULES_CACHE"] = ${JSON.stringify(path.join(root, "hf_modules"))}
from transformers import AutoConfig
from transformers.dynamic_module_utils import get_class_from_dynamic_module
cfg = AutoConfig.from_pretrained(${JSON.stringify(dst)}, trust_remote_code=True)
cls = get_class_from_dynamic_module("modeling_baichuan.BaichuanForCausalLM", ${JSON.stringify(dst)})
out["config_class"] = type(cfg).__module__.split(".")[-1] + "." + type(cfg).__name__
out["hidden"] = cfg.hidden_size
out["chat"] = cls().chat()()
`);
  assert.equal(py.config_class, "configuration_baichuan.BaichuanConfig");
  assert.equal(py.hidden, 32);
  assert.equal(py.chat, 1);
});
