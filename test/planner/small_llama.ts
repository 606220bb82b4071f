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
