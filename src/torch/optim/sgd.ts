// torch.optim.SGD on libtorch's fused kernel (aten::_fused_sgd_, one call per device and dtype);
// the same arithmetic as PyTorch's for-loop implementation.
import type { Tensor } from "../tensor.js";
import { _fused_sgd_, empty_like } from "../_generated/functions.js";
import {
  Optimizer,
  checkImplementation,
  checkNonNegative,
  groupByDeviceAndDtype,
  type ImplementationOptions,
  type Params,
  type ParamGroup,
} from "./optimizer.js";
import { ValueError } from "../errors.js";
import { checkOptions } from "../_options.js";

export interface SGDOptions extends ImplementationOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weight_decay: number;
  nesterov: boolean;
  maximize: boolean;
}

export class SGD extends Optimizer<SGDOptions> {
  constructor(params: Params<SGDOptions>, opts: Partial<SGDOptions> = {}) {
    checkOptions("SGD.__init__", opts, {
      lr: true,
      momentum: true,
      dampening: true,
      weight_decay: true,
      nesterov: true,
      maximize: true,
      foreach: true,
      differentiable: true,
      fused: true,
    });
    const d: SGDOptions = {
      lr: 1e-3,
      momentum: 0,
      dampening: 0,
      weight_decay: 0,
      nesterov: false,
      maximize: false,
      foreach: null,
      differentiable: false,
      fused: null,
      ...opts,
    };
    checkImplementation(new.target.name, d);
    checkNonNegative(d.lr, "learning rate");
    checkNonNegative(d.momentum, "momentum value");
    checkNonNegative(d.weight_decay, "weight_decay value");
    if (d.nesterov && (d.momentum <= 0 || d.dampening !== 0))
      throw new ValueError("Nesterov momentum requires a momentum and zero dampening");
    super(params, d);
  }

  protected _stepGroup(group: ParamGroup<SGDOptions>): void {
    const { params, grads, states } = this._withGrads(group, () => ({}));
    if (params.length === 0) return;
    const useMomentum = group.momentum !== 0;
    const isFirstStep = useMomentum && states.every((s) => s.momentum_buffer === undefined || s.momentum_buffer === null);
    const bufs = states.map((s, i) => (isFirstStep ? empty_like(grads[i]) : (s.momentum_buffer as Tensor)));
    for (const [p, g, b] of groupByDeviceAndDtype([params, grads, bufs])) {
      _fused_sgd_(p, g, useMomentum ? b : [], {
        weight_decay: group.weight_decay,
        momentum: group.momentum,
        lr: group.lr,
        dampening: group.dampening,
        nesterov: group.nesterov,
        maximize: group.maximize,
        is_first_step: isFirstStep,
      });
    }
    if (useMomentum) states.forEach((s, i) => (s.momentum_buffer = bufs[i]));
  }
}
