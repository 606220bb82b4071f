// Logits processors and warpers with HF's math (transformers/generation/logits_process.py). Python's
// `processor(input_ids, scores)` is `processor.call(input_ids, scores)`; scores are [batch, vocab].
import { ValueError } from "../../torch/errors.js";
import * as torch from "../../torch/index.js";
import type { Tensor } from "../../torch/tensor.js";

export interface LogitsProcessor {
  call(input_ids: Tensor, scores: Tensor): Tensor;
}

/** Applies its processors in order, as HF's LogitsProcessorList. */
export class LogitsProcessorList extends Array<LogitsProcessor> implements LogitsProcessor {
  call(input_ids: Tensor, scores: Tensor): Tensor {
    let s = scores;
    for (const p of this) s = p.call(input_ids, s);
    return s;
  }
}

/** Divides positive and multiplies negative scores of tokens already in `input_ids` by `penalty`. */
export class RepetitionPenaltyLogitsProcessor implements LogitsProcessor {
  constructor(readonly penalty: number) {
    if (!(typeof penalty === "number" && penalty > 0))
      throw new ValueError(`\`penalty\` has to be a strictly positive float, but is ${penalty}`);
  }

  call(input_ids: Tensor, scores: Tensor): Tensor {
    const ids2d = input_ids.dim() === 1 ? input_ids.unsqueeze(1) : input_ids;
    // Ids past the scores' vocab land in one padded column that is dropped at the end (as HF does).
    const vocab = scores.shape[scores.dim() - 1];
    const ids = ids2d.clamp(null, vocab);
    const padded = torch.nn.functional.pad(scores, [0, 1]);
    const score = torch.gather(padded, 1, ids);
    const penalized = torch.where(score.lt(0), score.mul(this.penalty), score.div(this.penalty));
    return padded.scatter(1, ids, penalized).narrow(-1, 0, vocab);
  }
}

export class TemperatureLogitsWarper implements LogitsProcessor {
  constructor(readonly temperature: number) {
    if (!(typeof temperature === "number" && temperature > 0)) {
      let msg = `\`temperature\` (=${temperature}) has to be a strictly positive float, otherwise your next token scores will be invalid.`;
      if (temperature === 0) msg += " If you're looking for greedy decoding strategies, set `do_sample=False`.";
      throw new ValueError(msg);
    }
  }

  call(_input_ids: Tensor, scores: Tensor): Tensor {
    return scores.div(this.temperature);
  }
}

function checkMinTokens(min_tokens_to_keep: number): void {
  if (!Number.isInteger(min_tokens_to_keep) || min_tokens_to_keep < 1) {
    throw new ValueError(`\`min_tokens_to_keep\` has to be a positive integer, but is ${min_tokens_to_keep}`);
  }
}

/** Keeps the `top_k` highest scores (ties with the k-th included); the rest become `filter_value`. */
export class TopKLogitsWarper implements LogitsProcessor {
  readonly top_k: number;

  constructor(
    top_k: number,
    readonly filter_value = -Infinity,
    readonly min_tokens_to_keep = 1,
  ) {
    if (!Number.isInteger(top_k) || top_k <= 0) throw new ValueError(`\`top_k\` has to be a strictly positive integer, but is ${top_k}`);
    this.top_k = Math.max(top_k, min_tokens_to_keep);
  }

  call(_input_ids: Tensor, scores: Tensor): Tensor {
    const k = Math.min(this.top_k, scores.shape[scores.dim() - 1]);
    const kth = torch.topk(scores, k)[0].index(["...", -1, null]);
    return scores.masked_fill(scores.lt(kth), this.filter_value);
  }
}

/** Keeps the smallest set of tokens whose probabilities sum past `top_p` (at least `min_tokens_to_keep`). */
export class TopPLogitsWarper implements LogitsProcessor {
  constructor(
    readonly top_p: number,
    readonly filter_value = -Infinity,
    readonly min_tokens_to_keep = 1,
  ) {
    if (!(top_p >= 0 && top_p <= 1.0)) throw new ValueError(`\`top_p\` has to be a float > 0 and < 1, but is ${top_p}`);
    checkMinTokens(min_tokens_to_keep);
  }

  call(_input_ids: Tensor, scores: Tensor): Tensor {
    const [sorted_logits, sorted_indices] = torch.sort(scores, { descending: false });
    const cumulative_probs = sorted_logits.softmax(-1).cumsum(-1);
    const sorted_indices_to_remove = cumulative_probs.le(1 - this.top_p);
    sorted_indices_to_remove.index_put_(["...", `-${this.min_tokens_to_keep}:`], false);
    const indices_to_remove = sorted_indices_to_remove.scatter(1, sorted_indices, sorted_indices_to_remove);
    return scores.masked_fill(indices_to_remove, this.filter_value);
  }
}
