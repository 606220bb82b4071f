// DynamicCache: per-layer key/value tensors [batch, kv_heads, seq, head_dim] that grow along seq,
// as HF's DynamicCache.
import * as torch from "../torch/index.js";
import type { Tensor } from "../torch/tensor.js";
import { escape } from "../torch/memory.js";

/**
 * `cache.update(key, value, layer_idx)` as an attention layer calls it: what the cache returns is the
 * cache's from then on, so the layer's scope must not free it — whichever cache class it is (a
 * pipeline stage's cache overrides update).
 */
export function updateCache(cache: DynamicCache, key: Tensor, value: Tensor, layer_idx: number): [Tensor, Tensor] {
  const kv = cache.update(key, value, layer_idx);
  escape(kv);
  return kv;
}

export class DynamicCache {
  readonly key_cache: Tensor[] = [];
  readonly value_cache: Tensor[] = [];

  /** Appends this step's keys and values for `layer_idx` and returns the whole cached sequence. */
  update(key: Tensor, value: Tensor, layer_idx: number): [Tensor, Tensor] {
    if (layer_idx > this.key_cache.length) {
      throw new Error(`DynamicCache.update: layer ${layer_idx} updated before layer ${this.key_cache.length}`);
    }
    if (layer_idx === this.key_cache.length) {
      this.key_cache.push(key);
      this.value_cache.push(value);
    } else {
      this.key_cache[layer_idx] = torch.cat([this.key_cache[layer_idx], key], -2);
      this.value_cache[layer_idx] = torch.cat([this.value_cache[layer_idx], value], -2);
    }
    return [this.key_cache[layer_idx], this.value_cache[layer_idx]];
  }

  /** Cached tokens of `layer_idx` (0 when that layer has nothing yet). */
  get_seq_length(layer_idx = 0): number {
    const k = this.key_cache[layer_idx];
    return k === undefined ? 0 : k.size(-2);
  }

  /** Selects batch rows (beam search), in place. */
  reorder_cache(beam_idx: Tensor): void {
    for (let i = 0; i < this.key_cache.length; i++) {
      this.key_cache[i] = this.key_cache[i].index_select(0, beam_idx.to(this.key_cache[i].device));
      this.value_cache[i] = this.value_cache[i].index_select(0, beam_idx.to(this.value_cache[i].device));
    }
    escape([this.key_cache, this.value_cache]);
  }

  /** Drops cached tokens past `max_length`. */
  crop(max_length: number): void {
    for (let i = 0; i < this.key_cache.length; i++) {
      this.key_cache[i] = this.key_cache[i].narrow(-2, 0, Math.min(max_length, this.key_cache[i].size(-2)));
      this.value_cache[i] = this.value_cache[i].narrow(-2, 0, Math.min(max_length, this.value_cache[i].size(-2)));
    }
    escape([this.key_cache, this.value_cache]);
  }

  get length(): number {
    return this.key_cache.length;
  }
}
