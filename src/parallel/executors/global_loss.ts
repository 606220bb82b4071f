// Single-device semantics for the loss: under data parallelism each rank computes the loss of its
// share of the global batch, yet `loss.item()` must be the global batch's loss, the same on every
// rank, and the gradients those of one process. The model's output loss (HF's `ModelOutput.loss`)
// is replaced by a tensor whose value is the global loss and whose gradient is this rank's, scaled
// so that averaging over the ranks gives the one-process gradient. With HF's `labels` (shifted by
// one, -100 ignored) each rank's loss is weighted by the tokens it counts, so a token-mean loss over
// a padded batch stays the one-process mean; otherwise every rank weighs the same.
import "../../torch/_generated/tensor_methods.js";
import { no_grad } from "../../torch/autograd/grad_mode.js";
import { tensor } from "../../torch/creation.js";
import * as dist from "../../torch/distributed/index.js";
import type { ProcessGroup } from "../../torch/distributed/process_group.js";
import { float64 } from "../../torch/dtype.js";
import { Tensor } from "../../torch/tensor.js";

const IGNORE_INDEX = -100;

/** Tokens an HF causal-LM loss averages over: labels shifted by one, -100 ignored (null without labels). */
export function countedTokens(labels: unknown): number | null {
  if (!(labels instanceof Tensor) || labels.dim() === 0 || labels.size(-1) < 1) return null;
  return no_grad(
    () =>
      labels
        .narrow(-1, 1, labels.size(-1) - 1)
        .ne(IGNORE_INDEX)
        .sum()
        .item() as number,
  );
}

/**
 * Makes `output.loss` the global loss over `ranks` data-parallel ranks, the ranks of `group` (null:
 * every rank); every one of them calls it.
 */
export function globalizeLoss(output: unknown, kwargs: unknown, ranks: number, group: ProcessGroup | null = null): void {
  if (ranks < 2 || output === null || typeof output !== "object") return;
  const holder = output as { loss?: unknown };
  const loss = holder.loss;
  if (!(loss instanceof Tensor) || loss.dim() !== 0) return;
  const labels = kwargs !== null && typeof kwargs === "object" ? (kwargs as { labels?: unknown }).labels : undefined;
  const n = countedTokens(labels) ?? 1;
  const local = loss.detach().item() as number;
  const stats = tensor([n, n * local], { dtype: float64 });
  dist.all_reduce(stats, dist.ReduceOp.SUM, { group });
  const [total, weighted] = stats.tolist() as number[];
  if (total === 0) return;
  const scale = (n * ranks) / total;
  const global = weighted / total;
  // value: global; gradient: scale × this rank's (the ranks' gradients are then averaged).
  holder.loss = loss.mul(scale).add(global - local * scale);
}
