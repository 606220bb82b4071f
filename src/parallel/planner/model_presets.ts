// Model presets by name: the `config.json` values of checkpoints people train (the same values as the
// reference configs), so `tessera plan --model llama-2-7b` needs no file.
import { basename, dirname } from "node:path";
import { readJsonObject } from "./json_file.js";
import { profileFromConfig, type ModelProfile } from "./model_profile.js";

const llama = (hidden: number, ffn: number, heads: number, kv: number, layers: number, vocab: number) => ({
  model_type: "llama",
  hidden_size: hidden,
  intermediate_size: ffn,
  num_attention_heads: heads,
  num_key_value_heads: kv,
  num_hidden_layers: layers,
  vocab_size: vocab,
});
const gpt2 = (n_embd: number, n_layer: number, n_head: number) => ({
  model_type: "gpt2",
  n_embd,
  n_layer,
  n_head,
  vocab_size: 50257,
  n_positions: 1024,
});

const presets: Record<string, Record<string, unknown>> = {
  "llama-2-7b": llama(4096, 11008, 32, 32, 32, 32000),
  "llama-2-13b": llama(5120, 13824, 40, 40, 40, 32000),
  "llama-2-70b": llama(8192, 28672, 64, 8, 80, 32000),
  "llama-3-8b": llama(4096, 14336, 32, 8, 32, 128256),
  "llama-3-70b": llama(8192, 28672, 64, 8, 80, 128256),
  "mistral-7b": { ...llama(4096, 14336, 32, 8, 32, 32000), model_type: "mistral" },
  "qwen2-7b": { ...llama(3584, 18944, 28, 4, 28, 152064), model_type: "qwen2" },
  "baichuan2-7b": { ...llama(4096, 11008, 32, 32, 32, 125696), model_type: "baichuan" },
  "baichuan2-13b": { ...llama(5120, 13696, 40, 40, 40, 125696), model_type: "baichuan" },
  gpt2: gpt2(768, 12, 12),
  "gpt2-medium": gpt2(1024, 24, 16),
  "gpt2-large": gpt2(1280, 36, 20),
  "gpt2-xl": gpt2(1600, 48, 25),
};

export function modelPresetNames(): string[] {
  return Object.keys(presets);
}

export function modelPreset(name: string): ModelProfile {
  const config = presets[name.toLowerCase()];
  if (config === undefined) throw new Error(`unknown model preset '${name}' (known: ${modelPresetNames().join(", ")})`);
  return profileFromConfig(config, name.toLowerCase());
}

/** `--model` accepts a path to a `config.json` (or a folder holding one) or a preset name. */
export function loadModelProfile(spec: string): ModelProfile {
  if (presets[spec.toLowerCase()] !== undefined) return modelPreset(spec);
  if (!/[\\/]|\.json$/.test(spec)) return modelPreset(spec);
  const file = spec.endsWith(".json") ? spec : `${spec.replace(/[\\/]$/, "")}/config.json`;
  const config = readJsonObject(file, "model config", ` (give a config.json path or a preset: ${modelPresetNames().join(", ")})`);
  const name = basename(file) === "config.json" ? basename(dirname(file)) : basename(file, ".json");
  return profileFromConfig(config, name);
}
