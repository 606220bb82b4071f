// `tessera prepare`: the fine-tuning tutorial's dataset step (examples/finetune/prepare_dataset.ts) as
// a command: tokenize a .txt/.jsonl dataset into fixed-length blocks and torch.save them.
import { main as prepareMain } from "../../examples/finetune/prepare_dataset.js";

export async function main(argv: string[]): Promise<number> {
  return prepareMain(argv, "tessera prepare");
}
