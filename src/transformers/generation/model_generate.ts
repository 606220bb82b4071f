// `model.generate(input_ids, options)` on every PreTrainedModel, installed from here so the model
// classes stay free of decoding code (HF mixes GenerationMixin in the same way).
import type { Tensor } from "../../torch/tensor.js";
import type { PretrainedConfig } from "../configuration_utils.js";
import { PreTrainedModel } from "../modeling_utils.js";
import { generate, type GenerateOptions } from "./utils.js";

declare module "../modeling_utils.js" {
  interface PreTrainedModel<C extends PretrainedConfig = PretrainedConfig> {
    /** Greedy or sampled decoding; returns [batch, prompt_len + new] (see generation/utils.ts). */
    generate(input_ids: Tensor, options?: GenerateOptions): Tensor;
  }
}

PreTrainedModel.prototype.generate = function (this: PreTrainedModel, input_ids: Tensor, options: GenerateOptions = {}): Tensor {
  return generate(this, input_ids, options);
};
