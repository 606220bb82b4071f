// A tiny Baichuan2-13B-shaped model (ALiBi, W_pack, NormHead; random weights, fixed seed) with the
// tutorial's character tokenizer, placed in a Hugging Face cache under the real model's hub id, so
// that seed_port.ts runs as written: `from_pretrained("baichuan-inc/Baichuan2-13B-Base")` finds it
// there (snapshots/<commit> and refs/main, as huggingface_hub lays a download out).
//   node --import tsx examples/finetune/lib/tiny_baichuan.ts [cache dir]   (default: the HF cache)
import { copyFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { torch } from "tessera";
import { BaichuanConfig, BaichuanForCausalLM, hub_cache_dir, repo_folder } from "tessera/transformers";
import { DEFAULT_CONFIG_DIR } from "./paths.js";
import { isEntryPoint } from "./cli.js";

export const TINY_BAICHUAN_REPO = "baichuan-inc/Baichuan2-13B-Base";
/** The commit the snapshot is filed under (any 40 hex digits do for a cache). */
export const TINY_BAICHUAN_COMMIT = "7a0b4a2c5f9d41b3e8c6d2f0a1b3c5d7e9f1a2b4";

/** Writes the tiny model into `cache_dir` (default: HF_HUB_CACHE / HF_HOME / ~/.cache) and returns its snapshot folder. */
export function placeTinyBaichuan(cache_dir: string | null = null): string {
  const repo = repo_folder(TINY_BAICHUAN_REPO, cache_dir);
  const snapshot = path.join(repo, "snapshots", TINY_BAICHUAN_COMMIT);
  const staging = `${snapshot}.${process.pid}.incomplete`;
  torch.manual_seed(0);
  const config = new BaichuanConfig({
    architectures: ["BaichuanForCausalLM"],
    vocab_size: 128,
    hidden_size: 64,
    intermediate_size: 172,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    model_max_length: 64,
    pad_token_id: 0,
    bos_token_id: 1,
    eos_token_id: 2,
    tie_word_embeddings: false,
  });
  BaichuanForCausalLM.from_config(config).save_pretrained(staging);
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) copyFileSync(path.join(DEFAULT_CONFIG_DIR, f), path.join(staging, f));
  rmSync(snapshot, { recursive: true, force: true });
  renameSync(staging, snapshot);
  mkdirSync(path.join(repo, "refs"), { recursive: true });
  writeFileSync(path.join(repo, "refs", "main"), TINY_BAICHUAN_COMMIT);
  return snapshot;
}

if (isEntryPoint(import.meta.url)) {
  const dir = process.argv[2] ?? hub_cache_dir();
  console.log(`${TINY_BAICHUAN_REPO} placed at ${placeTinyBaichuan(dir)}`);
}
