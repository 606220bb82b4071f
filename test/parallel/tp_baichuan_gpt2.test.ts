// Tensor and sequence parallelism on Gloo for Baichuan2 7B-style (RoPE, fused W_pack; its z-loss,
// vocab-parallel too, on TP plans only: the global loss over DP ranks weighs each rank's loss by its
// label tokens, which the z-loss's mean over positions is not), 13B-style (ALiBi slopes split with
// the heads) and GPT-2 (Conv1D, LayerNorm biases, tied head).
import { TP_CASES, tensorParallelSuite } from "./_tp.js";

tensorParallelSuite("baichuan7", null);
tensorParallelSuite(
  "baichuan7-zloss",
  null,
  TP_CASES.filter((c) => !c.name.startsWith("dp")),
);
tensorParallelSuite("baichuan13", null);
tensorParallelSuite("gpt2", "GPT2LMHeadModel");
