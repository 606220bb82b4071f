// Usage: load_sharded.ts save DIR | load DIR. `save` writes a 69M-parameter Llama (fixed seed) as an
// HF folder; `load` reads it back under the one line (the plan from TESSERA_PLAN) and prints, per
// rank, how much the data segment (VmData) grew during from_pretrained and the loss on a fixed batch.
import { readFileSync } from "node:fs";
import { torch } from "../../../src/index.js";
import { AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM } from "../../../src/transformers/index.js";

function vmData(): number {
  const line = readFileSync("/proc/self/status", "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmData:"));
  return Number(line?.split(/\s+/)[1] ?? 0) * 1024;
}

const [mode, dir] = process.argv.slice(2);
if (mode === "save") {
  const config = new LlamaConfig({
    vocab_size: 8192,
    hidden_size: 768,
    intermediate_size: 2048,
    num_hidden_layers: 8,
    num_attention_heads: 8,
    num_key_value_heads: 8,
    max_position_embeddings: 64,
  });
  torch.manual_seed(0);
  LlamaForCausalLM.from_config(config).save_pretrained(dir);
} else {
  torch.moreh.option.enable_advanced_parallelization({ global_batch: 4, seq_len: 32 });
  // Blocks the caching CPU allocator keeps for reuse are mapped but hold no tensor: give them back
  // before each reading so that the growth is what the loader keeps.
  torch.cpu.empty_cache();
  const before = vmData();
  const model = AutoModelForCausalLM.from_pretrained(dir);
  torch.cpu.empty_cache();
  const grown = vmData() - before;
  const ids = torch.randint(0, 8192, [4, 32], { generator: new torch.Generator().manual_seed(1) });
  const loss = torch.no_grad(() => model.forward(ids, { labels: ids }).loss!.item() as number);
  const rank = torch.distributed.is_initialized() ? torch.distributed.get_rank() : 0;
  console.log(JSON.stringify({ rank, grown, loss, plan: torch.moreh.applied_plan() }));
}
