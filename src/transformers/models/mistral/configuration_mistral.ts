// MistralConfig: LlamaConfig plus a sliding attention window.
import { take, type ConfigDict } from "../../configuration_utils.js";
import { LlamaConfig } from "../llama/configuration_llama.js";

export class MistralConfig extends LlamaConfig {
  static override model_type = "mistral";
  sliding_window: number | null;

  constructor(d: ConfigDict = {}) {
    super(d);
    this.sliding_window = take<number | null>(this.extra, "sliding_window", "sliding_window" in d ? null : 4096);
  }
}
