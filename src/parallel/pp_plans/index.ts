// What the pipeline executor (executors/pipeline.ts) needs from the model families: the output it
// hands back on every rank (every family here is a causal LM returning CausalLMOutputWithPast), and a
// key/value cache a pipeline rank can fill for its own layers only.
import type { Tensor } from "../../torch/tensor.js";
import { cat } from "../../torch/_generated/functions.js";
import { DynamicCache } from "../../transformers/cache_utils.js";
import { CausalLMOutputWithPast } from "../../transformers/modeling_outputs.js";

/**
 * One pipeline rank's cache: entries for the layers it runs (the others' stay holes), and the
 * tokens cached before the current forward, which every layer reads as the past length (layer 0's
 * entry, DynamicCache's answer, lives on the first stage only).
 */
export class StageCache extends DynamicCache {
  private past = 0;

  override update(key: Tensor, value: Tensor, layer_idx: number): [Tensor, Tensor] {
    const k = this.key_cache[layer_idx];
    this.key_cache[layer_idx] = k === undefined ? key : cat([k, key], -2);
    this.value_cache[layer_idx] = k === undefined ? value : cat([this.value_cache[layer_idx], value], -2);
    return [this.key_cache[layer_idx], this.value_cache[layer_idx]];
  }

  override get_seq_length(): number {
    return this.past;
  }

  /** Every chunk has run the forward: its `tokens` are cached now. */
  advance(tokens: number): void {
    this.past += tokens;
  }

  override reorder_cache(beam_idx: Tensor): void {
    this.key_cache.forEach((k, i) => {
      this.key_cache[i] = k.index_select(0, beam_idx.to(k.device));
      this.value_cache[i] = this.value_cache[i].index_select(0, beam_idx.to(k.device));
    });
  }

  override crop(max_length: number): void {
    this.key_cache.forEach((k, i) => {
      this.key_cache[i] = k.narrow(-2, 0, Math.min(max_length, k.size(-2)));
      this.value_cache[i] = this.value_cache[i].narrow(-2, 0, Math.min(max_length, k.size(-2)));
    });
    this.past = Math.min(this.past, max_length);
  }
}

/** The model's output as every rank returns it. */
export function pipelineOutput(loss: Tensor | null, logits: Tensor, cache: StageCache | null): CausalLMOutputWithPast {
  return new CausalLMOutputWithPast(loss, logits, cache);
}
