// `tessera merge-checkpoint CHECKPOINT OUT`: a checkpoint saved by any plan on any number of ranks
// (docs/checkpoints.md) as a plain HF model folder that from_pretrained (tessera's or Python's) loads.
import { existsSync } from "node:fs";
import path from "node:path";
import { METADATA_FILE, merge_checkpoint } from "../parallel/checkpoint/index.js";

const USAGE = `usage: tessera merge-checkpoint CHECKPOINT OUT [--max-shard-size SIZE]

Writes the checkpoint folder CHECKPOINT (e.g. out/finetune/checkpoint-500, saved by train.ts
--save-steps or save_checkpoint under any plan and number of ranks) as an HF model folder OUT:
model.safetensors (sharded above --max-shard-size, default 5GB) with every parameter in its own
dtype, and the files saved with it (config.json, tokenizer). OUT appears complete or not at all.

exit codes: 0 done, 2 bad usage or not a checkpoint, 1 failure while writing`;

export async function main(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  const args = [...argv];
  let maxShardSize = "5GB";
  const at = args.findIndex((a) => a === "--max-shard-size" || a.startsWith("--max-shard-size="));
  if (at >= 0) {
    const [flag, inline] = args[at].split(/=(.*)/s, 2);
    maxShardSize = inline ?? args[at + 1];
    args.splice(at, inline === undefined ? 2 : 1);
    if (maxShardSize === undefined) return usage(`${flag} needs a value`);
  }
  if (args.length !== 2 || args.some((a) => a.startsWith("--"))) return usage("expected CHECKPOINT and OUT");
  const [checkpoint, out] = args;
  if (!existsSync(path.join(checkpoint, METADATA_FILE))) return usage(`${checkpoint} is not a complete checkpoint (no ${METADATA_FILE})`);
  try {
    const names = merge_checkpoint(checkpoint, out, { max_shard_size: maxShardSize });
    console.log(`tessera merge-checkpoint: wrote ${names.length} tensors to ${out}`);
    return 0;
  } catch (e) {
    console.error(`tessera merge-checkpoint: ${(e as Error).message}`);
    return 1;
  }
}

function usage(problem: string): number {
  console.error(`tessera merge-checkpoint: ${problem}\n\n${USAGE}`);
  return 2;
}
