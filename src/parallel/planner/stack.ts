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
}

const TRAITS: Record<Stack, StackTraits> = {
  tessera: {
    activations: "eager",
    fragmentationMargin: true,
    pipelineSplit: "balanced",
    tpAsyncBackward: false,
    fp32GradAccumulation: false,
  },
  "megatron-lm": {
    activations: "fused",
    fragmentationMargin: false,
    pipelineSplit: "megatron",
    tpAsyncBackward: true,
    fp32GradAccumulation: false,
  },
  "megatron-deepspeed": {
    activations: "fused",
    fragmentationMargin: false,
    pipelineSplit: "megatron",
    tpAsyncBackward: false,
    fp32GradAccumulation: true,
  },
  "megatron-core": {
    activations: "fused",
    fragmentationMargin: false,
    pipelineSplit: "megatron",
    tpAsyncBackward: true,
    fp32GradAccumulation: false,
  },
  meta: {
    activations: "fused",
    fragmentationMargin: false,
    pipelineSplit: "megatron",
    tpAsyncBackward: false,
    fp32GradAccumulation: false,
  },
  "pytorch-fsdp": {
    activations: "eager",
    fragmentationMargin: true,
    pipelineSplit: "balanced",
    tpAsyncBackward: false,
    fp32GradAccumulation: false,
  },
};

export function stackTraits(stack: Stack | undefined): StackTraits {
  return TRAITS[stack ?? "tessera"];
}
