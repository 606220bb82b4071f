// torch.nn.Parameter: a Tensor that a Module registers as a parameter. Like PyTorch's
// `_make_subclass`, it aliases the given tensor's memory (detached) rather than copying it.
import { inspect } from "node:util";
import { native } from "../_native.js";
import { Tensor } from "../tensor.js";
import { empty } from "../_generated/functions.js";

class ParameterImpl extends Tensor {
  /** `new nn.Parameter(data, requires_grad = true)`; PyTorch's `nn.Parameter(data)`. */
  constructor(data: Tensor = empty(0), requires_grad = true) {
    if (!(data instanceof Tensor)) throw new TypeError(`Parameter: data must be a Tensor, got ${typeof data}`);
    super(native.data(data._h));
    native.setRequiresGrad(this._h, requires_grad);
  }

  override toString(): string {
    return `Parameter containing:\n${super.toString()}`;
  }

  override [inspect.custom](): string {
    return this.toString();
  }
}

/**
 * At the type level a Parameter is a Tensor (it adds no members): tsc compares a subclass of the
 * ~1,000-method Tensor with Tensor structurally, which is too deep for it wherever the two meet in
 * a union (`model.parameters()` passed where tensors are expected). At run time it is its own class,
 * so `t instanceof nn.Parameter` tells parameters apart as in PyTorch.
 */
export type Parameter = Tensor;
export const Parameter = ParameterImpl as unknown as new (data?: Tensor, requires_grad?: boolean) => Parameter;
