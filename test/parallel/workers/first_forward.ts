// A model whose first use is a forward (evaluation before any optimizer exists): the plan is applied
// at that call, and the call itself already runs the plan's forward (a pipeline's, tensor
// parallelism's gathered logits), then greedy generate. Prints one JSON line per rank.
import { torch } from "../../../src/index.js";
import { LlamaConfig, LlamaForCausalLM } from "../../../src/transformers/index.js";
import { generate } from "../../../src/transformers/generation/index.js";

torch.moreh.option.enable_advanced_parallelization({ global_batch: 8, seq_len: 12, hardware: "cpu" });
torch.manual_seed(0);
const config = new LlamaConfig({
  vocab_size: 96,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 64,
  tie_word_embeddings: true,
});
const model = LlamaForCausalLM.from_config(config);
model.eval();
const ids = torch.randint(3, 96, [2, 5], { generator: new torch.Generator().manual_seed(3) });
const logits = torch.no_grad(() => model.forward(ids, { use_cache: false })).logits;
const generated = generate(model, ids, { max_new_tokens: 3, do_sample: false }).tolist();
const rank = torch.distributed.is_initialized() ? torch.distributed.get_rank() : 0;
console.log(JSON.stringify({ rank, logits: logits.abs().sum().item(), shape: logits.shape, generated }));
