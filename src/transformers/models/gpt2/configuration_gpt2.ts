// GPT2Config, with HF's attribute map (hidden_size = n_embd, num_hidden_layers = n_layer,
// num_attention_heads = n_head, max_position_embeddings = n_positions).
import { take, type ConfigDict, PretrainedConfig } from "../../configuration_utils.js";

export class GPT2Config extends PretrainedConfig {
  static override model_type = "gpt2";
  n_embd: number;
  n_layer: number;
  n_head: number;
  n_positions: number;
  n_inner: number | null;
  activation_function: string;
  layer_norm_epsilon: number;
  resid_pdrop: number;
  embd_pdrop: number;
  attn_pdrop: number;
  scale_attn_weights: boolean;
  scale_attn_by_inverse_layer_idx: boolean;

  constructor(d: ConfigDict = {}) {
    super({ vocab_size: 50257, tie_word_embeddings: true, bos_token_id: 50256, eos_token_id: 50256, ...d });
    const x = this.extra;
    this.n_embd = take(x, "n_embd", 768);
    this.n_layer = take(x, "n_layer", 12);
    this.n_head = take(x, "n_head", 12);
    this.n_positions = take(x, "n_positions", 1024);
    this.n_inner = take<number | null>(x, "n_inner", null);
    this.activation_function = take(x, "activation_function", "gelu_new");
    this.layer_norm_epsilon = take(x, "layer_norm_epsilon", 1e-5);
    this.resid_pdrop = take(x, "resid_pdrop", 0.1);
    this.embd_pdrop = take(x, "embd_pdrop", 0.1);
    this.attn_pdrop = take(x, "attn_pdrop", 0.1);
    this.scale_attn_weights = take(x, "scale_attn_weights", true);
    this.scale_attn_by_inverse_layer_idx = take(x, "scale_attn_by_inverse_layer_idx", false);
    // The base class read the generic names; GPT-2's own keys are the source of truth.
    this.hidden_size = this.n_embd;
    this.num_hidden_layers = this.n_layer;
    this.num_attention_heads = this.n_head;
  }

  override to_dict(): ConfigDict {
    const d = super.to_dict();
    for (const k of ["hidden_size", "num_hidden_layers", "num_attention_heads"]) delete d[k];
    return d;
  }
}
