// HF's ForCausalLMLoss: logits upcast to float, labels shifted left by one (the last position
// predicts nothing), mean cross-entropy over the labels that are not ignore_index (-100).
import * as torch from "../torch/index.js";
import type { Tensor } from "../torch/tensor.js";
import { scope } from "../torch/memory.js";

// In a scope: the shifted labels and the float logits (as large as the logits) go at once.
export function ForCausalLMLoss(logits: Tensor, labels: Tensor, vocab_size: number, ignore_index = -100): Tensor {
  return scope(() => {
    const shift_labels = torch.nn.functional
      .pad(labels.to({ device: logits.device }), [0, 1], "constant", ignore_index)
      .narrow(-1, 1, labels.size(-1));
    return torch.nn.functional.cross_entropy(logits.float().reshape(-1, vocab_size), shift_labels.reshape(-1), { ignore_index });
  });
}
