// A pipeline training step's memory on each rank, counted at the allocator (src/torch/cpu_memory.ts):
// a tiny Llama under the one line (the plan from TESSERA_PLAN), two warm-up steps, then one step
// whose peak above what was alive before it (after a V8 collection) is reported. No collection runs
// during the step: what the schedule leaves to the GC counts.
// Usage: pp_memory.ts <rows per step>. Prints one JSON line per rank: { rank, peak }.
import v8 from "node:v8";
import vm from "node:vm";
import { torch } from "../../../src/index.js";
import { LlamaConfig, LlamaForCausalLM } from "../../../src/transformers/index.js";
import * as cpu_memory from "../../../src/torch/cpu_memory.js";

const rows = Number(process.argv[2]);
torch.moreh.option.enable_advanced_parallelization({ global_batch: rows, seq_len: 16, hardware: "cpu" });
cpu_memory.track_cpu_memory();
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;
torch.manual_seed(0);
const model = LlamaForCausalLM.from_config(
  new LlamaConfig({
    vocab_size: 256,
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    max_position_embeddings: 16,
    tie_word_embeddings: false,
  }),
);
model.train();
const optim = new torch.optim.AdamW(model.parameters(), { lr: 1e-3 });
const ids = torch.randint(0, 256, [rows, 16], { generator: new torch.Generator().manual_seed(1) });
const step = (): void => {
  const out = model.forward(ids, { labels: ids, use_cache: false }) as { loss: torch.Tensor };
  out.loss.backward();
  optim.step();
  optim.zero_grad();
};
step();
step();
gc();
const before = cpu_memory.cpu_memory_allocated();
cpu_memory.cpu_reset_peak_memory_stats();
step();
const rank = torch.distributed.is_initialized() ? torch.distributed.get_rank() : 0;
console.log(JSON.stringify({ rank, peak: cpu_memory.cpu_max_memory_allocated() - before }));
