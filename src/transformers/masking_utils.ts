// Attention masks for the decoder families: causal (optionally a sliding window) combined with a
// [batch, kv_len] padding mask, as one boolean mask [batch, 1, q_len, kv_len] (true = may attend),
// which is what HF 5 hands to SDPA (a fully padded query row then yields zeros, as in HF). When
// nothing but plain causality applies, no mask is built and SDPA's is_causal is used. Models whose
// published code adds finfo.min instead (Baichuan2) use additiveMask.
import { ValueError } from "../torch/errors.js";
import * as torch from "../torch/index.js";
import type { Tensor } from "../torch/tensor.js";
import type { dtype } from "../torch/dtype.js";

/** torch.finfo(dtype).min for the floating dtypes a model runs in. */
export function finfoMin(dt: dtype): number {
  switch (dt.name) {
    case "float16":
      return -65504;
    case "bfloat16":
      return -3.3895313892515355e38;
    case "float64":
      return -Number.MAX_VALUE;
    default:
      return -3.4028234663852886e38;
  }
}

export interface MaskInputs {
  /** [batch, kv_len] with 1 for real tokens and 0 for padding, a ready 4-D mask, or null. */
  attention_mask: Tensor | null;
  q_len: number;
  past_len: number;
  dtype: dtype;
  device: torch.device;
  sliding_window?: number | null;
}

/** The mask SDPA gets, and whether SDPA's own causal masking stands in for it. */
export interface AttentionMask {
  mask: Tensor | null;
  is_causal: boolean;
}

/** Where each query may look: bool [batch or 1, 1, q_len, kv_len]. */
export function allowedPositions({ attention_mask, q_len, past_len, device, sliding_window = null }: MaskInputs): Tensor {
  const kv_len = past_len + q_len;
  const q = torch.arange(past_len, kv_len, { device }).unsqueeze(1);
  const kv = torch.arange(kv_len, { device }).unsqueeze(0);
  let allowed = kv.le(q);
  if (sliding_window !== null) allowed = allowed.logical_and(kv.gt(q.sub(sliding_window)));
  allowed = allowed.unsqueeze(0).unsqueeze(0);
  if (attention_mask !== null) {
    if (attention_mask.size(-1) !== kv_len) {
      throw new ValueError(
        `attention_mask has ${attention_mask.size(-1)} positions but the keys span ${kv_len} (${past_len} cached + ${q_len} new)`,
      );
    }
    allowed = allowed.logical_and(attention_mask.to({ device }).bool().unsqueeze(1).unsqueeze(1));
  }
  return allowed;
}

/** 0 where allowed, finfo.min elsewhere, in `dt`. */
export function additiveMask(allowed: Tensor, dt: dtype): Tensor {
  return torch.zeros([], { dtype: dt, device: allowed.device }).masked_fill(allowed.logical_not(), finfoMin(dt));
}

export function causalAttentionMask(inputs: MaskInputs): AttentionMask {
  const { attention_mask, q_len, past_len, sliding_window = null } = inputs;
  if (attention_mask !== null && attention_mask.dim() === 4) return { mask: attention_mask, is_causal: false };
  const noPadding = attention_mask === null || Boolean(attention_mask.all().item());
  const windowBites = sliding_window !== null && past_len + q_len > sliding_window;
  if (noPadding && !windowBites && (past_len === 0 || q_len === 1)) return { mask: null, is_causal: past_len === 0 && q_len > 1 };
  return { mask: allowedPositions(inputs), is_causal: false };
}
