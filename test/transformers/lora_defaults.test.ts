// LoRA's target modules default by model family, as PEFT's TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING
// (read from the installed peft), plus Baichuan's fused W_pack, which that table lacks; get_peft_model
// without target_modules wraps exactly those layers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { torch } from "../../src/index.js";
import {
  BaichuanConfig,
  BaichuanForCausalLM,
  GPT2Config,
  GPT2LMHeadModel,
  LoraConfig,
  LoraLinear,
  get_peft_model,
} from "../../src/transformers/index.js";
import { runPython } from "../helpers/oracle.js";

test("default target modules are PEFT's per family, and W_pack for Baichuan", () => {
  const py = runPython(`
from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as M
out["table"] = {k: M[k] for k in ["llama", "mistral", "qwen2", "gpt2"]}
out["baichuan"] = M.get("baichuan")
`);
  const config = new LoraConfig({ r: 4, lora_alpha: 8, task_type: "CAUSAL_LM" });
  for (const [family, targets] of Object.entries(py.table as Record<string, string[]>))
    assert.deepEqual(config.resolved_target_modules(family), targets, family);
  assert.deepEqual(config.resolved_target_modules("baichuan"), ["W_pack"], `PEFT's table has ${JSON.stringify(py.baichuan)} for baichuan`);
  assert.throws(
    () => config.resolved_target_modules("bert"),
    /please specify `target_modules` in `peft_config` \(no default for model_type "bert"\)/,
  );

  torch.manual_seed(0);
  const baichuan = BaichuanForCausalLM.from_config(
    new BaichuanConfig({ hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, vocab_size: 64, intermediate_size: 64 }),
  );
  const wrapped = (m: torch.nn.Module): string[] =>
    [...m.named_modules()].filter(([, x]) => x instanceof LoraLinear).map(([n]) => n.split(".").pop() as string);
  assert.deepEqual(wrapped(get_peft_model(baichuan, new LoraConfig({ r: 4, lora_alpha: 8, task_type: "CAUSAL_LM" }))), [
    "W_pack",
    "W_pack",
  ]);
  const gpt2 = GPT2LMHeadModel.from_config(new GPT2Config({ n_embd: 32, n_layer: 1, n_head: 2, vocab_size: 64, n_positions: 16 }));
  assert.deepEqual(wrapped(get_peft_model(gpt2, new LoraConfig({ r: 4, lora_alpha: 8, task_type: "CAUSAL_LM" }))), ["c_attn"]);
});
