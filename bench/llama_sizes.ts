// The Llama shapes the training benchmarks (train_step.ts, rss_steps.ts) run on both sides:
// overhead-bound (tiny matrices: the binding's per-op cost dominates), the small Llama (vocab
// 4096, hidden 256, 4 layers, batch 8 × 128), and compute-bound (hidden 1024: matmuls dominate).
export interface Size {
  config: Record<string, number>;
  batch: number;
  seq: number;
  steps: number;
  warmup: number;
}

export const SIZES: Record<string, Size> = {
  overhead: {
    config: {
      vocab_size: 256,
      hidden_size: 64,
      intermediate_size: 172,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
    },
    batch: 2,
    seq: 16,
    steps: 60,
    warmup: 10,
  },
  small: {
    config: {
      vocab_size: 4096,
      hidden_size: 256,
      intermediate_size: 688,
      num_hidden_layers: 4,
      num_attention_heads: 8,
      num_key_value_heads: 4,
    },
    batch: 8,
    seq: 128,
    steps: 20,
    warmup: 3,
  },
  compute: {
    config: {
      vocab_size: 4096,
      hidden_size: 1024,
      intermediate_size: 2816,
      num_hidden_layers: 2,
      num_attention_heads: 16,
      num_key_value_heads: 8,
    },
    batch: 4,
    seq: 128,
    steps: 6,
    warmup: 2,
  },
};

// The CUDA step benchmark's shape (bench/train_step.ts --device cuda): Llama-2-7B's decoder layer
// (hidden 4096, 32 heads without GQA, SwiGLU 11008, vocab 32000; reference/configs/Llama-2-7b-hf.json), four
// of them, batch 2 × 2048, in bf16: ~1.07 B parameters, ~9 GB with AdamW's state.
export const CUDA_SIZES: Record<string, Size> = {
  llama2_7b_layers: {
    config: {
      vocab_size: 32000,
      hidden_size: 4096,
      intermediate_size: 11008,
      num_hidden_layers: 4,
      num_attention_heads: 32,
      num_key_value_heads: 32,
    },
    batch: 2,
    seq: 2048,
    steps: 10,
    warmup: 3,
  },
};
