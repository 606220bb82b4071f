// LlamaConfig. RoPE settings are kept as HF 5 writes them, `rope_parameters`
// ({rope_type, rope_theta, factor, ...}); HF 4 files (`rope_theta` + `rope_scaling`) are read too.
import { PretrainedConfig, take, type ConfigDict } from "../../configuration_utils.js";

export interface RopeParameters {
  rope_type: string;
  rope_theta: number;
  factor?: number;
  low_freq_factor?: number;
  high_freq_factor?: number;
  original_max_position_embeddings?: number;
  [key: string]: unknown;
}

/** rope_parameters from either spelling of the config. */
export function takeRopeParameters(d: ConfigDict, default_theta: number): RopeParameters {
  const theta = take<number>(d, "rope_theta", default_theta);
  const scaling = take<ConfigDict | null>(d, "rope_scaling", null);
  const params = take<ConfigDict | null>(d, "rope_parameters", null);
  const merged: ConfigDict = { rope_theta: theta, ...(scaling ?? {}), ...(params ?? {}) };
  // HF 4 spelled the type "type" in some configs.
  const type = merged.rope_type ?? merged.type ?? "default";
  delete merged.type;
  return { ...merged, rope_type: type as string, rope_theta: merged.rope_theta as number };
}

export class LlamaConfig extends PretrainedConfig {
  static override model_type = "llama";
  intermediate_size: number;
  num_key_value_heads: number;
  head_dim: number;
  hidden_act: string;
  max_position_embeddings: number;
  rms_norm_eps: number;
  rope_parameters: RopeParameters;
  attention_bias: boolean;
  attention_dropout: number;
  mlp_bias: boolean;

  constructor(d: ConfigDict = {}) {
    super(d);
    const x = this.extra;
    this.intermediate_size = take(x, "intermediate_size", 11008);
    this.num_key_value_heads = take(x, "num_key_value_heads", this.num_attention_heads);
    this.head_dim = take(x, "head_dim", Math.floor(this.hidden_size / this.num_attention_heads));
    this.hidden_act = take(x, "hidden_act", "silu");
    this.max_position_embeddings = take(x, "max_position_embeddings", 2048);
    this.rms_norm_eps = take(x, "rms_norm_eps", 1e-6);
    this.rope_parameters = takeRopeParameters(x, 10000.0);
    this.attention_bias = take(x, "attention_bias", false);
    this.attention_dropout = take(x, "attention_dropout", 0.0);
    this.mlp_bias = take(x, "mlp_bias", false);
  }
}
