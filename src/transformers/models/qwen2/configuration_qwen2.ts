// Qwen2Config: LlamaConfig plus optional sliding-window layers (`layer_types`, as HF 5 writes it;
// HF 4's use_sliding_window + max_window_layers otherwise).
import { take, type ConfigDict } from "../../configuration_utils.js";
import { LlamaConfig } from "../llama/configuration_llama.js";

export class Qwen2Config extends LlamaConfig {
  static override model_type = "qwen2";
  use_sliding_window: boolean;
  sliding_window: number | null;
  max_window_layers: number;
  layer_types: string[];

  constructor(d: ConfigDict = {}) {
    super(d);
    const x = this.extra;
    this.use_sliding_window = take(x, "use_sliding_window", false);
    this.sliding_window = take<number | null>(x, "sliding_window", null);
    this.max_window_layers = take(x, "max_window_layers", 28);
    this.layer_types = take(
      x,
      "layer_types",
      Array.from({ length: this.num_hidden_layers }, (_, i) =>
        this.use_sliding_window && this.sliding_window !== null && i >= this.max_window_layers ? "sliding_attention" : "full_attention",
      ),
    );
  }
}
