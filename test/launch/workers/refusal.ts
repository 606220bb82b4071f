// Usage: refusal.ts [hardware] — the one line, then a tiny Llama's first use: with a plan the runtime
// cannot apply, or hardware the model fits nowhere on, the script must stop there with a clear error.
import { torch } from "../../../src/index.js";
import { LlamaConfig, LlamaForCausalLM } from "../../../src/transformers/index.js";

const [hardware] = process.argv.slice(2);
torch.moreh.option.enable_advanced_parallelization(hardware === undefined ? {} : { hardware, global_batch: 64, seq_len: 16 });
const model = LlamaForCausalLM.from_config(
  new LlamaConfig({
    vocab_size: 64,
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
  }),
);
new torch.optim.AdamW(model.parameters(), { lr: 1e-3 });
console.log("training would start here");
