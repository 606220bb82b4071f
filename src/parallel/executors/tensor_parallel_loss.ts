// The output layer of a vocab-parallel model: each tensor-parallel rank holds the logits of one
// contiguous slice of the (padded) vocabulary. The causal-LM loss is computed from those slices
// without ever gathering the full logits (Megatron's vocab-parallel cross-entropy): per token, the
// max, the sum of exponentials and the target's logit are each one all-reduce of one number. Padding
// columns (a vocabulary the TP degree does not divide) are masked out of every reduction.
// Autograd keeps one logit-sized tensor (the exponentials) besides the logits: the loss runs in a
// scope, over the whole sequence (the last position's label is ignore_index, so no shifted copy of
// the logits), exponentiates in place, and picks the target from the logits themselves.
import "../../torch/_generated/tensor_methods.js";
import { arange, cat, full, where, zeros_like } from "../../torch/_generated/functions.js";
import { scope } from "../../torch/memory.js";
import { no_grad } from "../../torch/autograd/grad_mode.js";
import * as dist from "../../torch/distributed/index.js";
import type { ProcessGroup } from "../../torch/distributed/process_group.js";
import type { Tensor } from "../../torch/tensor.js";
import { gatherReplicated, reduceFromGroup } from "./tensor_parallel_comm.js";

/** Where this rank's logits sit in the vocabulary. */
export interface VocabShard {
  group: ProcessGroup;
  /** The vocabulary index of this rank's first column. */
  start: number;
  /** Columns of this rank's slice that are real tokens (the rest is padding). */
  real: number;
  /** The real vocabulary size. */
  vocab: number;
}

export interface CausalLMLossOptions {
  ignore_index?: number;
  /** Baichuan2's z-loss: weight × mean over positions of the squared max logit. */
  z_loss_weight?: number;
}

/** The per-token max over the vocabulary slices (no gradient). */
function detachedMax(local: Tensor, group: ProcessGroup): Tensor {
  return no_grad(() => {
    const m = local.amax(-1);
    dist.all_reduce(m, { op: dist.ReduceOp.MAX, group });
    return m;
  });
}

/** The per-token max, differentiable: the gradient reaches the slices holding it (ties share it, as amax's). */
function vocabMax(local: Tensor, max: Tensor, group: ProcessGroup): Tensor {
  const localMax = local.amax(-1);
  const holds = localMax.detach().eq(max);
  const holders = no_grad(() => {
    const n = holds.float();
    dist.all_reduce(n, { op: dist.ReduceOp.SUM, group });
    return n;
  });
  return reduceFromGroup(where(holds, localMax, zeros_like(localMax)).div(holders), group);
}

/**
 * HF's causal-LM loss (labels shifted left by one, mean cross-entropy over labels that are not
 * `ignore_index`, logits in float32), plus Baichuan2's optional z-loss, from this rank's vocab slice
 * of the logits [batch, seq, local vocab]. Every rank of the group gets the same loss.
 */
export function vocabParallelCausalLMLoss(
  logits: Tensor,
  labels: Tensor,
  shard: VocabShard,
  { ignore_index = -100, z_loss_weight = 0 }: CausalLMLossOptions = {},
): Tensor {
  return scope(() => {
    const width = logits.size(-1);
    let x = logits.float().reshape(-1, width);
    const next = labels.to({ device: logits.device }).narrow(1, 1, labels.size(1) - 1);
    const y = cat([next, full([next.size(0), 1], ignore_index, { dtype: next.dtype, device: next.device })], 1).reshape(-1);
    if (shard.real < width) x = x.masked_fill(arange(width, { device: x.device }).ge(shard.real), -Infinity);
    const max = detachedMax(x, shard.group);
    const sumExp = reduceFromGroup(x.sub(max.unsqueeze(-1)).exp_().sum(-1), shard.group);
    const mine = y.ge(shard.start).logical_and(y.lt(shard.start + shard.real));
    const index = y.sub(shard.start).masked_fill(mine.logical_not(), 0).unsqueeze(1);
    const picked = x.gather(1, index).squeeze(1).sub(max);
    const target = reduceFromGroup(where(mine, picked, zeros_like(picked)), shard.group);
    const counted = y.ne(ignore_index);
    const perToken = sumExp.log().sub(target);
    let loss = where(counted, perToken, zeros_like(perToken)).sum().div(counted.sum());
    if (z_loss_weight !== 0) {
      // Over the positions that predict a next token, as the loss.
      const zMax = vocabMax(x, max, shard.group).reshape(next.size(0), -1).narrow(1, 0, next.size(1));
      loss = loss.add(zMax.pow(2).mean().mul(z_loss_weight));
    }
    return loss;
  });
}

/** The full logits [..., vocab] from every rank's slice (for callers without labels, e.g. generate). */
export function gatherVocab(logits: Tensor, shard: VocabShard): Tensor {
  return gatherReplicated(logits, shard.group, logits.dim() - 1).narrow(-1, 0, shard.vocab);
}
