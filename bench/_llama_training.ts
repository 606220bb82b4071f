// The training setup the allocator and forward benchmarks time, one intra-op thread as their Python
// twins: a seeded Llama of `size` in training mode, AdamW, and one random batch of token ids.
import { torch } from "../src/index.js";
import { LlamaConfig, LlamaForCausalLM } from "../src/transformers/index.js";
import type { Size } from "./llama_sizes.js";

export function llamaTraining(size: Size): { model: LlamaForCausalLM; opt: torch.optim.AdamW; ids: torch.Tensor } {
  torch.set_num_threads(1);
  torch.manual_seed(0);
  const model = LlamaForCausalLM.from_config(new LlamaConfig({ ...size.config, use_cache: false }));
  model.train();
  const opt = new torch.optim.AdamW(model.parameters(), { lr: 1e-4 });
  const ids = torch.randint(0, size.config.vocab_size, [size.batch, size.seq]);
  return { model, opt, ids };
}
