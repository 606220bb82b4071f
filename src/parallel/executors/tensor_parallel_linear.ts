// The column-parallel linears of a sequence-parallel region (an attention's q/k/v, an MLP's gate and
// up, the output layer), as Megatron's sequence-parallel ColumnParallelLinear runs them
// (LinearWithGradAccumulationAndAsyncCommunication): forward all-gathers this rank's sequence shard,
// each linear keeps only the shard for backward, and backward all-gathers it again for the weight
// gradients. Keeping the gathered input instead would store t times the activation that sequence
// parallelism is there to split (Korthikanti et al. 2022, §4.2.2). The region's linears share one
// gather each way: the forward's lives while the region runs, the backward's from the first of its
// linears' backward to the last; the input's gradient is reduce-scattered once, by the forward
// gather's own backward (gatherShards).
import "../../torch/_generated/tensor_methods.js";
import { Function, type FunctionCtx } from "../../torch/autograd/function.js";
import { _backward_retains_graph } from "../../torch/autograd/engine.js";
import { no_grad } from "../../torch/autograd/grad_mode.js";
import type { ProcessGroup } from "../../torch/distributed/process_group.js";
import { escape, scope } from "../../torch/memory.js";
import * as F from "../../torch/nn/functional.js";
import type { Tensor } from "../../torch/tensor.js";
import { backwardOf, gatherShards, gathered } from "./tensor_parallel_comm.js";

/** How a projection stores its weight: nn.Linear's [out, in], or GPT-2's Conv1D [in, out]. */
export type WeightLayout = "linear" | "conv1d";

/** What the region's linears keep for backward: this rank's shard, and the input gathered again there. */
class SavedShard {
  private regathered: Tensor | null = null;
  private users = 0;
  private pending = 0;

  constructor(
    private readonly shard: Tensor,
    private readonly group: ProcessGroup,
  ) {}

  use(): void {
    this.users++;
    this.pending++;
  }

  /** The full input as [tokens, features], gathered by the first backward that asks. */
  input(): Tensor {
    if (this.shard.is_disposed)
      throw new Error(
        "tensor parallel: backward through a sequence-parallel region a second time; a backward without retain_graph freed its saved input (pass retain_graph: true to the earlier backward)",
      );
    if (this.regathered === null) {
      this.regathered = no_grad(() => scope(() => gathered(this.shard, this.group, 1).reshape(-1, this.shard.size(-1))));
      escape(this.regathered); // kept past this backward's scope, for the region's other linears
    }
    return this.regathered;
  }

  /**
   * One linear's backward is done; after the last the gathered input goes, and the shard too unless
   * the graph is kept for another backward (which then gathers again), as libtorch frees saved tensors.
   */
  done(): void {
    if (--this.pending > 0) return;
    this.regathered?.dispose();
    this.regathered = null;
    this.pending = this.users;
    if (!_backward_retains_graph()) this.shard.dispose();
  }
}

// A Conv1D weight ([in, out]) as the plain module runs it: F.linear of its transpose.
function forwardLinear(x: Tensor, weight: Tensor, bias: Tensor | null, layout: WeightLayout): Tensor {
  return F.linear(x, layout === "linear" ? weight : weight.t(), bias);
}

// The gradients as libtorch's addmm/mm backward computes them for each layout (mm_mat1_backward,
// mm_mat2_backward), so that the results equal the plain module's.
class ColumnLinearOnShard extends Function {
  static override forward(
    ctx: FunctionCtx,
    x: Tensor,
    weight: Tensor,
    bias: Tensor | null,
    saved: SavedShard,
    layout: WeightLayout,
  ): Tensor {
    ctx.save_for_backward(weight);
    Object.assign(ctx, { saved, layout, shape: x.shape, hasBias: bias !== null });
    saved.use();
    return forwardLinear(x, weight, bias, layout);
  }

  static override backward(ctx: FunctionCtx, grad: Tensor): [Tensor | null, Tensor | null, Tensor | null, null, null] {
    const [weight] = ctx.saved_tensors;
    const saved = ctx.saved as SavedShard;
    const linear = ctx.layout === "linear";
    const [needX, needW, needB] = ctx.needs_input_grad;
    const grads = backwardOf(grad, () => {
      const g = grad.reshape(-1, grad.size(-1));
      const gx = needX ? (linear ? g.mm(weight) : g.mm(weight.t())).view(ctx.shape as number[]) : null;
      const x = needW ? saved.input() : null;
      const gw = x === null ? null : linear ? g.t().mm(x) : x.t().mm(g);
      const gb = needB && ctx.hasBias === true ? g.sum(0) : null;
      return [gx, gw, gb, null, null] as const;
    });
    saved.done();
    return [...grads];
  }
}

/**
 * One region's gathered input: `full` is what the region's module runs on (forward only), `linear`
 * applies one of its column-parallel linears to it keeping only the shard for backward.
 */
export class GatheredInput {
  readonly full: Tensor;
  private readonly saved: SavedShard;

  constructor(shard: Tensor, group: ProcessGroup) {
    // Contiguous, so that the linears fold it to [tokens, features] without a copy each.
    this.full = scope(() => gatherShards(shard, group, 1).contiguous());
    this.saved = new SavedShard(shard.detach(), group);
  }

  linear(weight: Tensor, bias: Tensor | null, layout: WeightLayout): Tensor {
    return ColumnLinearOnShard.apply(this.full, weight, bias, this.saved, layout);
  }
}
