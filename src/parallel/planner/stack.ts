// The software stack that runs a plan. The planner's own plans run on tessera's executors; a published
// result ran on its authors' stack, and is evaluated with what that stack does differently from
// tessera where the difference is documented (the source of each trait is named beside it). Nothing
// here is fitted to a result.

/**
 * tessera: this repository's executors (the default). megatron-lm: Megatron-LM 3.x (Korthikanti et
 * al. 2022). megatron-deepspeed: BigScience's Megatron-DeepSpeed with DeepSpeed's BF16_Optimizer
 * (BLOOM). megatron-core: NeMo / Megatron-Core with Transformer Engine. meta: Meta's Llama 3 stack.
 * pytorch-fsdp: PyTorch FSDP with eager modules (llm-foundry, torchtitan).
 */
export type Stack = "tessera" | "megatron-lm" | "megatron-deepspeed" | "megatron-core" | "meta" | "pytorch-fsdp";

export const STACKS: readonly Stack[] = ["tessera", "megatron-lm", "megatron-deepspeed", "megatron-core", "meta", "pytorch-fsdp"];

export interface StackTraits {
  /**
   * How a layer's stored activations are counted. "eager": tessera's executors, one stored tensor
   * per eager op (a gated MLP keeps gate, up, act(gate) and their product). "fused": the published
   * formula of Korthikanti et al. 2022 (§4, the stack's fused kernels), with a gated MLP's activation
   * one fused op that keeps its input and its output (Megatron-Core's bias_swiglu saves only its input,
   * the down projection saves the output: 3 elements per MLP width, not 4).
   */
  activations: "eager" | "fused";
  /**
   * A margin for the caching allocator's fragmentation on top of the memory that is allocated and
   * freed every step. tessera's own plans keep FRAGMENTATION_MARGIN (memory.ts); the published
   * stacks are counted by the published formulas (ZeRO §3 for states, Korthikanti §4 for
   * activations), which count live bytes: no margin.
   */
  fragmentationMargin: boolean;
  /**
   * How the pipeline splits the decoder layers. "balanced": stages.ts (tessera's executors).
   * "megatron": layers / (pp·vpp) to every chunk (Megatron-LM's rule); when that does not divide, the
   * embedding and the output layer count as one layer each and the first and last chunks take one
   * layer fewer (Megatron-DeepSpeed's --pp-partition-method 'type:transformer|embedding', BLOOM's
   * [embed | 5] [6] … [6] [5 | embed] over 12 stages; Megatron-Core's account-for-embedding/loss
   * split; Llama 3's "one Transformer layer fewer on the first and the last stages").
   */
  pipelineSplit: "balanced" | "megatron";
  /**
   * Megatron-LM's asynchronous TP communication in backward under sequence parallelism
   * (tensor_parallel/layers.py, LinearWithGradAccumulationAndAsyncCommunication): a column-parallel
   * layer re-gathers its sharded input behind the input-gradient GEMM and reduce-scatters the input
   * gradient behind the weight-gradient GEMM; only the row-parallel layers' all-gathers stay exposed.
   */
  tpAsyncBackward: boolean;
  /**
   * DeepSpeed's BF16_Optimizer accumulates every micro-batch's bf16 gradients into an fp32 buffer of
   * the rank's parameters, unsharded (BigScience tr11-176B-ml README, "Deepspeed config": "accumulates
   * grads in fp32 … consumes 4 bytes * params of additional memory"): a pass reading 2 + 4 and
   * writing 4 bytes per parameter per micro-batch, and 4 bytes per parameter held.
   */
  fp32GradAccumulation: boolean;
  /**
   * Under fp8, the primary weights of the FP8 GEMMs are FP8 tensors: 1 byte each plus the transpose
   * Transformer Engine caches for the backward GEMMs on Hopper, no bf16 copy; the fp32 master stays in
   * the optimizer and the ZeRO all-gather moves the FP8 bytes. Otherwise bf16 weights plus TE's cached
   * FP8 copy and its transpose (2 bytes per parameter). Sources:
   * - NeMo 2.x nemo/collections/llm/recipes/precision/mixed_precision.py `bf16_with_fp8_mixed`:
   *   `fp8_params = True` (v2.1.0, commit 3e251a0418), `fp8_param_gather = True` from v2.3; the plugin
   *   (nemo/lightning/pytorch/plugins/mixed_precision.py, v2.2.0 l. 99-105) sets TE's
   *   `FP8GlobalStateManager.FP8_PARAMETERS`, what `fp8_model_init` sets. NeMo's performance script
   *   scripts/llm/performance/pretrain_nemotron4_340b.py (v2.2.0) runs fp8 with that recipe and
   *   `grad_reduce_in_fp32 = False`, at recommended_model_configs/model_configs_h100.csv's
   *   "pre_train,nemotron4,340b,h100,fp8,128,4096,8,8,1,2,1,12,1,32" (the NeMo Nemotron-4 340B row's
   *   layout). Megatron-Bridge's `bf16_with_fp8_delayed_scaling_mixed` and
   *   `bf16_with_fp8_current_scaling_mixed` (src/megatron/bridge/training/mixed_precision.py) set
   *   `fp8_param_gather = True`.
   * - Transformer Engine v1.13 transformer_engine/pytorch/module/base.py l. 938-952: a primary FP8
   *   weight is `Float8Tensor.to_float8(param, ..., with_transpose_cache=torch.is_grad_enabled())`;
   *   module/linear.py l. 970-990 refills that transpose cache, or without FP8 weights casts the bf16
   *   weight into a cached workspace with its transpose (base.py l. 1031-1048). TE 2.x
   *   tensor/float8_tensor.py: no separate transpose where FP8 GEMMs take non-TN layouts (Blackwell).
   * - Megatron-Core core_r0.11.0 distributed_data_parallel.py l. 114-123 (an FP8 parameter's buffer
   *   is uint8; its gradient bf16 unless grad_reduce_in_fp32) and optimizer/distrib_optimizer.py
   *   l. 345-375 (the sharded fp32 main parameter made from it).
   * The embedding and the output layer (Megatron-Core's tensor_parallel.ColumnParallelLinear, not a TE
   * module) stay bf16 either way. NeMo 24.07's own launcher configs (NeMo 1.x) do not set `fp8_params`
   * for these layouts; docs/planner-validation.md says what that changes.
   */
  fp8PrimaryWeights: boolean;
}

const TRAITS: Record<Stack, StackTraits> = {
  tessera: {
    activations: "eager",
    fragmentationMargin: true,
    pipelineSplit: "balanced",
    tpAsyncBackward: false,
    fp32GradAccumulation: false,
    fp8PrimaryWeights: false,
  },
  "megatron-lm": {
    activations: "fused",
    fragmentationMargin: false,
    pipelineSplit: "megatron",
    tpAsyncBackward: true,
    fp32GradAccumulation: false,
    fp8PrimaryWeights: false,
  },
  "megatron-deepspeed": {
    activations: "fused",
    fragmentationMargin: false,
    pipelineSplit: "megatron",
    tpAsyncBackward: false,
    fp32GradAccumulation: true,
    fp8PrimaryWeights: false,
  },
  "megatron-core": {
    activations: "fused",
    fragmentationMargin: false,
    pipelineSplit: "megatron",
    tpAsyncBackward: true,
    fp32GradAccumulation: false,
    fp8PrimaryWeights: true,
  },
  meta: {
    activations: "fused",
    fragmentationMargin: false,
    pipelineSplit: "megatron",
    tpAsyncBackward: false,
    fp32GradAccumulation: false,
    fp8PrimaryWeights: false,
  },
  "pytorch-fsdp": {
    activations: "eager",
    fragmentationMargin: true,
    pipelineSplit: "balanced",
    tpAsyncBackward: false,
    fp32GradAccumulation: false,
    fp8PrimaryWeights: false,
  },
};

export function stackTraits(stack: Stack | undefined): StackTraits {
  return TRAITS[stack ?? "tessera"];
}
