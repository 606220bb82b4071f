// Tensor and sequence parallelism on Gloo for Llama with grouped-query attention (4 heads, 2 k/v
// heads: replicated over tp 4) and for a tied Llama whose vocabulary (97) neither 2 nor 4 divides.
import { tensorParallelSuite } from "./_tp.js";

tensorParallelSuite("llama", "LlamaForCausalLM");
tensorParallelSuite("llama-odd", "LlamaForCausalLM");
