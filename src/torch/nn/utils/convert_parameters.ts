// nn.utils.parameters_to_vector / vector_to_parameters.
import type { Tensor } from "../../tensor.js";
import { no_grad } from "../../autograd/grad_mode.js";
import { cat } from "../../_generated/functions.js";

export function parameters_to_vector(parameters: Iterable<Tensor>): Tensor {
  return cat([...parameters].map((p) => p.view(-1)));
}

export function vector_to_parameters(vec: Tensor, parameters: Iterable<Tensor>): void {
  if (vec.dim() !== 1) throw new TypeError(`expected vec to be a 1-D Tensor, but got a ${vec.dim()}-D Tensor`);
  let pointer = 0;
  no_grad(() => {
    for (const p of parameters) {
      const n = p.numel();
      p.copy_(vec.slice(0, pointer, pointer + n).view_as(p));
      pointer += n;
    }
  });
}
