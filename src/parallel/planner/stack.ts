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
   * Under sequence parallelism a column-parallel layer keeps only its input's sequence shard for
   * backward and all-gathers it again there for the weight gradient: Megatron-LM's
   * LinearWithGradAccumulationAndAsyncCommunication (the stacks with tpAsyncBackward, which hide it),
   * and tessera's executor (src/parallel/executors/tensor_parallel_linear.ts, exposed). The other
   * stacks are counted without that all-gather.
   */
  spRegather: boolean;
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
  /**
   * The dtype of the data-parallel gradient reduction (DDP's all-reduce, ZeRO's reduce-scatter) under
   * mixed precision: "fp32" (4 bytes per gradient) or "compute" (the compute dtype: 2 bytes under bf16
   * and fp8; 4 under fp32, where both are the same). Sources:
   * - tessera: src/parallel/executors/flat_unit.ts (launchReduce, reduceGradient) converts each
   *   gradient to the unit's master dtype, fp32 under mixed precision (sharded.ts), before reducing.
   * - megatron-lm: Megatron-LM v2.6 megatron/arguments.py l. 146-152 (still core_r0.10.0
   *   megatron/training/arguments.py l. 419-425): `--bf16` turns on
   *   `accumulate_allreduce_grads_in_fp32` ("bfloat16 requires gradient accumulation and all-reduce
   *   to be done in fp32").
   * - megatron-deepspeed: DeepSpeed's BF16_Optimizer hands its fp32 accumulated gradients to the
   *   pipeline engine's all-reduce (runtime/pipe/engine.py `_bf16_reduce_grads`, from BigScience's
   *   bf16 work merged as #1801, commit 56c522386; v0.6.2 to v0.7.7), and `allreduce_bucket`
   *   (runtime/engine.py) casts them to `communication_data_type`, which without that config key is
   *   bf16 under bf16 at ZeRO stage 0 (`communication_data_type`, same versions). BLOOM's ds_config
   *   (bigscience train/tr11-176B-ml/tr11-176B-ml.slurm) sets bf16, ZeRO stage 0 and no
   *   communication_data_type.
   * - megatron-core: `grad_reduce_in_fp32 = False` in every NeMo 2.x performance script
   *   (scripts/llm/performance/pretrain_*.py, v2.2.0, e.g. pretrain_nemotron4_340b.py l. 84; the
   *   layouts of the NeMo rows are lines of its recommended_model_configs/model_configs_h100.csv); the
   *   NeMo-Framework-Launcher 24.07 FP8 examples (examples/training/{gpt,llama}/h100/*_fp8*.sh)
   *   pass `optim.grad_sync_dtype=bf16` (NeMo r2.0.0rc1 megatron_gpt_model.py l. 534 maps it to
   *   Megatron-Core's `grad_reduce_in_fp32`); Megatron-Bridge v0.1.0rc3 (the NeMo 25.09 container)
   *   scripts/performance/configs/llama3/llama3_{8b,70b}_llm_pretrain.yaml and
   *   llama31/llama31_405b_llm_pretrain.yaml set `mixed_precision.grad_reduce_in_fp32: false`.
   *   (Megatron-Core's gradient buffer is then bf16: the 2 bytes memory.ts counts.)
   * - meta: "we ... reduce-scatter gradients in FP32 across data parallel workers in FSDP" (Llama 3
   *   paper, arXiv 2407.21783, §3.3.2 "Numerical stability").
   * - pytorch-fsdp: llm-foundry's benchmark table (scripts/train/benchmarking/README.md) runs its rows
   *   in MP Mode DEFAULT, which Composer v0.16.4 (composer/trainer/mosaic_fsdp_utils.py
   *   `get_mixed_precision`; llm-foundry's setup.py at the table's commit b2a43a147 requires
   *   mosaicml>=0.16.4) maps to FSDP's `MixedPrecision(reduce_dtype=torch.float32)`. Composer before
   *   v0.16.4 (commit d745fcb1b, Oct 2023) left reduce_dtype unset under DEFAULT, which FSDP then
   *   reduces in the parameter dtype (bf16); the table does not name its Composer version. Rows run
   *   in MP Mode PURE reduce in bf16: a published row states that itself (published.ts, grad_reduce).
   */
  gradientReduce: GradientReduce;
  /**
   * ZeRO-1's gradient collective over the shard group. "all_reduce": every rank receives the whole
   * reduced gradient and updates its shard from it (tessera's flat units, flat_unit.ts launchReduce;
   * DeepSpeed's BF16_Optimizer through the engine's `allreduce_bucket`, v0.6.2 to v0.7.7).
   * "reduce_scatter": each rank receives only its shard's sum, as at ZeRO-2, while the unsharded
   * gradient buffer stays (its memory is unchanged): Megatron-Core's distributed optimizer (Megatron-LM
   * core_r0.11.0 megatron/core/distributed/param_and_grad_buffer.py l. 309-331, `start_grad_sync`:
   * reduce_scatter_tensor when use_distributed_optimizer, all_reduce otherwise; Megatron-LM's
   * `--use-distributed-optimizer` is the same code), and apex's DistributedFusedAdam, the
   * `distributed_fused_adam` of NeMo-Framework-Launcher 24.07's GPT-3, Llama and Nemotron configs
   * (apex 24.07 apex/contrib/optimizers/distributed_fused_adam.py l. 1823-1905,
   * `_start_bucket_grad_sync`: reduce_scatter_tensor over the distributed group, all_reduce only over
   * the redundant group, of size 1 by default); Llama 3's FSDP ("reduce-scatter gradients ... across
   * data parallel workers in FSDP", arXiv 2407.21783 §3.3.2). PyTorch FSDP has no ZeRO-1 of its own
   * (FULL_SHARD is 3, SHARD_GRAD_OP 2): tessera's rule stands in.
   */
  zero1GradientCollective: "all_reduce" | "reduce_scatter";
  /**
   * Under an interleaved pipeline schedule (vpp > 1) each point-to-point send and receive runs behind
   * the compute of a model chunk instead of between chunks: Megatron-Core's `overlap_p2p_comm`
   * (core_r0.11.0 pipeline_parallel/schedules.py, forward_backward_pipelining_with_interleaving:
   * the next chunk's receives are posted and waited on only before they are needed), which NeMo 2.x
   * turns on whenever pp > 1 and vpp > 1 (v2.2.0 nemo/lightning/pytorch/callbacks/
   * megatron_comm_overlap.py l. 153-158), as Megatron-Bridge does (v0.1.0rc3
   * src/megatron/bridge/training/comm_overlap.py l. 455-457), and NeMo-Framework-Launcher 24.07's
   * interleaved configs set (gpt3/175b.yaml l. 108, llama/llama2_13b.yaml l. 137,
   * llama2_70b.yaml l. 140, llama3_70b.yaml l. 138).
   */
  interleavedP2pOverlap: boolean;
  /**
   * The gradient buffer the backward accumulates into holds the reduction's dtype (gradientReduce):
   * Megatron's contiguous main-gradient buffer, "bf16 parameters, fp32 gradients: 18 bytes per
   * parameter, 6 + 12/d under the distributed optimizer" (Megatron-LM core_r0.11.0
   * docs/source/api-guide/dist_optimizer.md, README.md l. 240-246; fp32 under Megatron-LM's --bf16,
   * bf16 where NeMo sets grad_reduce_in_fp32 = False: 4 + 12/d). Elsewhere gradients are held in the
   * compute dtype (tessera's flat units keep the reduced sum in the master dtype only while
   * accumulating, memory.ts's own count; DeepSpeed's fp32 buffer is fp32GradAccumulation).
   */
  gradientBufferInReduceDtype: boolean;
  /**
   * How a step's data-parallel collectives are issued, which sets how many times each pays its
   * latency. "per-unit": tessera's executors — one message per flat unit (each decoder layer of the
   * stage and the root unit for the rest: src/parallel/executors/sharded.ts, flat_unit.ts) wherever
   * flat units are made (ZeRO >= 1, a pipeline or gradient accumulation, 16-bit weights), else DDP's
   * Reducer in buckets of DDP_BUCKET_BYTES (executors/buckets.ts). "one": one message per step, for
   * the published stacks (Megatron-Core's and DeepSpeed's buckets of tens of millions of parameters;
   * PyTorch FSDP's per-block messages counted so too, their NCCL latency of tens of microseconds
   * small next to them).
   */
  dataParallelMessages: "per-unit" | "one";
}

/** A gradient reduction's dtype: fp32, or the compute dtype (stack.ts, gradientReduce). */
export type GradientReduce = "fp32" | "compute";

const TRAITS: Record<Stack, StackTraits> = {
  tessera: {
    activations: "eager",
    fragmentationMargin: true,
    pipelineSplit: "balanced",
    tpAsyncBackward: false,
    spRegather: true,
    fp32GradAccumulation: false,
    fp8PrimaryWeights: false,
    gradientReduce: "fp32",
    zero1GradientCollective: "all_reduce",
    interleavedP2pOverlap: false,
    gradientBufferInReduceDtype: false,
    dataParallelMessages: "per-unit",
  },
  "megatron-lm": {
    activations: "fused",
    fragmentationMargin: false,
    pipelineSplit: "megatron",
    tpAsyncBackward: true,
    spRegather: true,
    fp32GradAccumulation: false,
    fp8PrimaryWeights: false,
    gradientReduce: "fp32",
    zero1GradientCollective: "reduce_scatter",
    interleavedP2pOverlap: false,
    gradientBufferInReduceDtype: true,
    dataParallelMessages: "one",
  },
  "megatron-deepspeed": {
    activations: "fused",
    fragmentationMargin: false,
    pipelineSplit: "megatron",
    tpAsyncBackward: false,
    spRegather: false,
    fp32GradAccumulation: true,
    fp8PrimaryWeights: false,
    gradientReduce: "compute",
    zero1GradientCollective: "all_reduce",
    interleavedP2pOverlap: false,
    gradientBufferInReduceDtype: false,
    dataParallelMessages: "one",
  },
  "megatron-core": {
    activations: "fused",
    fragmentationMargin: false,
    pipelineSplit: "megatron",
    tpAsyncBackward: true,
    spRegather: true,
    fp32GradAccumulation: false,
    fp8PrimaryWeights: true,
    gradientReduce: "compute",
    zero1GradientCollective: "reduce_scatter",
    interleavedP2pOverlap: true,
    gradientBufferInReduceDtype: true,
    dataParallelMessages: "one",
  },
  meta: {
    activations: "fused",
    fragmentationMargin: false,
    pipelineSplit: "megatron",
    tpAsyncBackward: false,
    spRegather: false,
    fp32GradAccumulation: false,
    fp8PrimaryWeights: false,
    gradientReduce: "fp32",
    zero1GradientCollective: "reduce_scatter",
    interleavedP2pOverlap: false,
    gradientBufferInReduceDtype: false,
    dataParallelMessages: "one",
  },
  "pytorch-fsdp": {
    activations: "eager",
    fragmentationMargin: true,
    pipelineSplit: "balanced",
    tpAsyncBackward: false,
    spRegather: false,
    fp32GradAccumulation: false,
    fp8PrimaryWeights: false,
    gradientReduce: "fp32",
    zero1GradientCollective: "all_reduce",
    interleavedP2pOverlap: false,
    gradientBufferInReduceDtype: false,
    dataParallelMessages: "one",
  },
};

export function stackTraits(stack: Stack | undefined): StackTraits {
  return TRAITS[stack ?? "tessera"];
}
