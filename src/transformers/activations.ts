// HF's ACT2FN: activation functions by the names configs use.
import * as torch from "../torch/index.js";
import type { Tensor } from "../torch/tensor.js";

const F = torch.nn.functional;

const ACT2FN: Record<string, (x: Tensor) => Tensor> = {
  silu: (x) => F.silu(x),
  swish: (x) => F.silu(x),
  gelu: (x) => F.gelu(x),
  gelu_new: (x) => F.gelu(x, { approximate: "tanh" }),
  gelu_pytorch_tanh: (x) => F.gelu(x, { approximate: "tanh" }),
  relu: (x) => F.relu(x),
  tanh: (x) => F.tanh(x),
};

export function get_activation(name: string): (x: Tensor) => Tensor {
  const fn = ACT2FN[name];
  if (fn === undefined)
    throw new Error(`activation ${JSON.stringify(name)} is not supported (supported: ${Object.keys(ACT2FN).join(", ")})`);
  return fn;
}
