// BaichuanConfig for Baichuan2 checkpoints (`model_type: "baichuan"`, remote code in HF). The 7B
// model uses RoPE and its config has `max_position_embeddings`; the 13B model uses ALiBi and its
// config has only `model_max_length` — so the presence of max_position_embeddings picks RoPE.
import { PretrainedConfig, take, type ConfigDict } from "../../configuration_utils.js";

export class BaichuanConfig extends PretrainedConfig {
  static override model_type = "baichuan";
  intermediate_size: number;
  hidden_act: string;
  max_position_embeddings: number | null;
  model_max_length: number;
  rms_norm_eps: number;
  z_loss_weight: number;

  constructor(d: ConfigDict = {}) {
    super({ vocab_size: 125696, pad_token_id: 0, bos_token_id: 1, eos_token_id: 2, ...d });
    const x = this.extra;
    this.intermediate_size = take(x, "intermediate_size", 11008);
    this.hidden_act = take(x, "hidden_act", "silu");
    this.max_position_embeddings = take<number | null>(x, "max_position_embeddings", null);
    this.model_max_length = take(x, "model_max_length", 4096);
    this.rms_norm_eps = take(x, "rms_norm_eps", 1e-6);
    this.z_loss_weight = take(x, "z_loss_weight", 0);
  }

  /** "rope" (Baichuan2-7B) or "alibi" (Baichuan2-13B). */
  get position_encoding(): "rope" | "alibi" {
    return this.max_position_embeddings === null ? "alibi" : "rope";
  }
}
