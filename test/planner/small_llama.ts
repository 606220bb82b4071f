// The small Llama the CPU calibration tests plan for (the shape bench/planner_measured.ts runs), as an
// HF config and as the planner's model profile.
import { profileFromConfig } from "../../src/parallel/planner/model_profile.js";

export const smallLlamaConfig = {
  model_type: "llama",
  vocab_size: 4096,
  hidden_size: 256,
  intermediate_size: 704,
  num_hidden_layers: 4,
  num_attention_heads: 8,
  num_key_value_heads: 8,
  tie_word_embeddings: false,
};

export const smallLlama = profileFromConfig(smallLlamaConfig, "small-llama");

/** A hand-made CPU calibration at the small Llama's widths (GEMMs at 2e10 FLOP/s, a 1 ms attention,
 *  10 GB/s copies, no collectives): what the tests of profileFromMeasurements add their own parts to. */
export const smallLlamaMeasurements = {
  device: "cpu test",
  software: "t",
  gemm: [64, 128].map((n) => ({ m: 128, n, k: 256, seconds: (2 * 128 * n * 256) / 2e10 })),
  attention: [{ batch: 1, heads: 8, seq: 128, headDim: 32, seconds: 1e-3 }],
  memoryCopy: { bytes: 1e8, seconds: 0.01 },
  collectives: [],
};
