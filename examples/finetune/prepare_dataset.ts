// Step 1 of the fine-tuning tutorial: tokenize a text or instruction dataset into fixed-length blocks
// and save them with torch.save. It is `tessera prepare` (the command and this script are one program;
// see `tessera prepare --help`).
//
//   node --import tsx examples/finetune/prepare_dataset.ts --model <dir> --data <file> --block-size 24 --out dataset.pt
import { cli } from "tessera";

/** Runs the step with argv; the exit code follows the tutorial's convention (0, 2 bad usage, 1 failure). */
export const main = (argv: string[], prog = "prepare_dataset.ts"): Promise<number> => cli.prepare(argv, prog);

if (cli.isEntryPoint(import.meta.url)) process.exitCode = await main(process.argv.slice(2));
