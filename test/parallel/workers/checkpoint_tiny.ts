// A training script that checkpoints under the one line, whatever the plan (TESSERA_PLAN) and the
// job's size (TESSERA_NPROC): a tiny Llama with tied embeddings, a shuffled loader, AdamW.
//   checkpoint_tiny.ts save DIR [AFTER]: two steps, save_checkpoint(DIR), save_pretrained(DIR-pretrained), one more step
//   checkpoint_tiny.ts load DIR [AFTER]: load_checkpoint(DIR), one step
// then, with AFTER, save_pretrained(AFTER): the weights after the step that follows the checkpoint.
// Prints one JSON line per rank: the loss of the step after the checkpoint and the trainer_state read back.
import { torch } from "../../../src/index.js";
import { LlamaConfig, LlamaForCausalLM } from "../../../src/transformers/index.js";
import { load_checkpoint, save_checkpoint } from "../../../src/parallel/checkpoint/index.js";

const [mode, dir, after] = process.argv.slice(2);
torch.moreh.option.enable_advanced_parallelization({ global_batch: 8, seq_len: 12 });
const config = new LlamaConfig({
  vocab_size: 96,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 64,
  tie_word_embeddings: true,
});
torch.manual_seed(0);
const model = LlamaForCausalLM.from_config(config);
const g = new torch.Generator().manual_seed(3);
const ids = torch.randint(3, 96, [32, 12], { generator: g });
const loader = new torch.utils.data.DataLoader(new torch.utils.data.TensorDataset(ids), { batch_size: 8, shuffle: true });
const optim = new torch.optim.AdamW(model.parameters(), { lr: 1e-2 });
const state = { model, optimizer: optim, dataloader: loader };

// Started at the first step, after a load: a pass begins when its iterator is made.
let batches: Iterator<torch.Tensor[]> | null = null;
function step(): number {
  batches ??= (loader as Iterable<torch.Tensor[]>)[Symbol.iterator]();
  const [input_ids] = batches.next().value as torch.Tensor[];
  const out = model.forward(input_ids, { labels: input_ids, use_cache: false });
  out.loss!.backward();
  optim.step();
  optim.zero_grad();
  return out.loss!.item() as number;
}

let trainer_state: Record<string, unknown> | null = null;
if (mode === "save") {
  step();
  step();
  save_checkpoint(dir, state, { trainer_state: { global_step: 2 } });
  model.save_pretrained(`${dir}-pretrained`);
} else {
  trainer_state = load_checkpoint(dir, state);
}
const next = step();
if (after !== undefined) model.save_pretrained(after);
const rank = torch.distributed.is_initialized() ? torch.distributed.get_rank() : 0;
console.log(JSON.stringify({ rank, next, trainer_state, plan: torch.moreh.applied_plan() }));
