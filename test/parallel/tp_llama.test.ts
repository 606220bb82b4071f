// Tensor and sequence parallelism on Gloo for Llama with grouped-query attention (4 heads, 2 k/v
// heads: replicated over tp 4), a tied Llama whose vocabulary (97) neither 2 nor 4 divides, and
// Qwen2 (the same decoder with q/k/v biases, split and gathered with their heads).
import { TP_CASES, tensorParallelSuite } from "./_tp.js";

tensorParallelSuite("llama", "LlamaForCausalLM");
tensorParallelSuite("llama-odd", "LlamaForCausalLM");
tensorParallelSuite(
  "qwen2",
  "Qwen2ForCausalLM",
  TP_CASES.filter((c) => c.name === "tp4" || c.name === "dp2-tp2-zero1"),
);
