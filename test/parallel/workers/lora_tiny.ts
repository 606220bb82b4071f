// LoRA added to a model after its plan was applied (the model's first use comes before
// get_peft_model): the adapters train, the sharded base stays frozen. Prints one JSON line per rank
// with the losses of three AdamW steps.
import { torch } from "../../../src/index.js";
import { LlamaConfig, LlamaForCausalLM } from "../../../src/transformers/index.js";
import { LoraConfig, get_peft_model } from "../../../src/transformers/peft/index.js";

torch.moreh.option.enable_advanced_parallelization({ global_batch: 4, seq_len: 8 });
const config = new LlamaConfig({
  vocab_size: 64,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
});
torch.manual_seed(0);
const model = LlamaForCausalLM.from_config(config);
model.num_parameters();
get_peft_model(model, new LoraConfig({ r: 4, lora_alpha: 8, target_modules: ["q_proj", "v_proj"], task_type: "CAUSAL_LM" }));
const trainable = [...model.parameters()].filter((p) => p.requires_grad);
const optim = new torch.optim.AdamW(trainable, { lr: 1e-2 });
const ids = torch.randint(0, 64, [4, 8], { generator: new torch.Generator().manual_seed(1) });
const loader = new torch.utils.data.DataLoader(new torch.utils.data.TensorDataset(ids), { batch_size: 4 });
const losses: number[] = [];
for (let step = 0; step < 3; step++) {
  for (const [input_ids] of loader as Iterable<torch.Tensor[]>) {
    const out = model.forward(input_ids, { labels: input_ids });
    out.loss!.backward();
    optim.step();
    optim.zero_grad();
    losses.push(out.loss!.item() as number);
  }
}
const rank = torch.distributed.is_initialized() ? torch.distributed.get_rank() : 0;
console.log(JSON.stringify({ rank, losses, trainable: trainable.length }));
