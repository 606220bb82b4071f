// A model whose training does not fit one process's memory limit (prlimit --data) but fits under
// ZeRO-3 on 4 ranks: a 69M-parameter Llama (276 MB of fp32 weights; AdamW training needs 4x that),
// three steps. Prints one JSON line per rank with the losses and the data segment (VmData) before the
// model and at the end. Tensors are freed by GC finalizers; with --expose-gc a collection after
// each step makes the peak the model's own state, as it is in PyTorch.
import { readFileSync } from "node:fs";
import { torch } from "../../../src/index.js";
import { LlamaConfig, LlamaForCausalLM } from "../../../src/transformers/index.js";

function vmData(): number {
  const line = readFileSync("/proc/self/status", "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmData:"));
  return Number(line?.split(/\s+/)[1] ?? 0) * 1024;
}

torch.moreh.option.enable_advanced_parallelization({ global_batch: 4, seq_len: 32 });
torch.set_num_threads(1);
const before = vmData();
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
const model = LlamaForCausalLM.from_config(config);
const optim = new torch.optim.AdamW(model.parameters(), { lr: 1e-3 });
const ids = torch.randint(0, 8192, [4, 32], { generator: new torch.Generator().manual_seed(1) });
const loader = new torch.utils.data.DataLoader(new torch.utils.data.TensorDataset(ids), { batch_size: 4 });
const losses: number[] = [];
for (let step = 0; step < 3; step++) {
  for (const [input_ids] of loader as Iterable<torch.Tensor[]>) {
    const out = model.forward(input_ids, { labels: input_ids, use_cache: false });
    out.loss!.backward();
    optim.step();
    optim.zero_grad();
    losses.push(out.loss!.item() as number);
    (globalThis as { gc?: () => void }).gc?.();
  }
}
const rank = torch.distributed.is_initialized() ? torch.distributed.get_rank() : 0;
console.log(JSON.stringify({ rank, losses, before, after: vmData(), plan: torch.moreh.applied_plan() }));
