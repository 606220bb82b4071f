// merge_checkpoint: a checkpoint (any plan, any world size) as a plain HF model folder — every
// parameter's full tensor (its TP slices put together) in its own dtype under its HF name (a tied weight once, under its first
// name: the input embedding's), the persistent buffers, and the files saved beside the shards
// (config.json, generation_config.json, a tokenizer). One process, no model class needed.
import { cpSync, readdirSync } from "node:fs";
import path from "node:path";
import "../../torch/_generated/tensor_methods.js";
import { bfloat16, float16, float32, float64, type dtype } from "../../torch/dtype.js";
import { save_torch_state_dict } from "../../torch/serialization/index.js";
import type { Tensor } from "../../torch/tensor.js";
import { CheckpointReader, METADATA_FILE } from "./format.js";
import { commitFolder, freshStagingFolder } from "./folders.js";

const FLOATS: dtype[] = [float16, bfloat16, float32, float64];
const RANK_FILE = /^rank-\d+\.safetensors$/;

/** Writes the checkpoint in `checkpoint` as an HF folder at `out` (atomically); returns the tensor names written. */
export function merge_checkpoint(
  checkpoint: string,
  out: string,
  { max_shard_size = "5GB" }: { max_shard_size?: string | number } = {},
): string[] {
  const reader = new CheckpointReader(checkpoint);
  try {
    const sd: Record<string, Tensor> = {};
    for (const where of reader.parameters()) {
      const { piece, entry } = where[0];
      const dt = FLOATS.find((d) => d.name === piece.param_dtype);
      const t = reader.full(where, "model");
      sd[piece.entries[entry].names[0]] = (dt === undefined ? t : t.to({ dtype: dt })).contiguous();
    }
    for (const { name, rank } of reader.meta.buffers) sd[name] = reader.tensor(rank, `buffer/${name}`);
    const staging = freshStagingFolder(out);
    save_torch_state_dict(sd, staging, { max_shard_size });
    for (const name of readdirSync(checkpoint)) {
      if (name !== METADATA_FILE && !RANK_FILE.test(name))
        cpSync(path.join(checkpoint, name), path.join(staging, name), { recursive: true });
    }
    commitFolder(staging, out);
    return Object.keys(sd);
  } finally {
    reader.close();
  }
}
