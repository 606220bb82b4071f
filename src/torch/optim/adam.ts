// torch.optim.Adam and AdamW on libtorch's fused kernels (aten::_fused_adam_ / _fused_adamw_, one
// call per device and dtype). State is PyTorch's: step (a float32 scalar tensor on the parameter's
// device, as for fused=True), exp_avg, exp_avg_sq and, with amsgrad, max_exp_avg_sq.
import type { Tensor } from "../tensor.js";
import { _foreach_add_, _fused_adam_, _fused_adamw_, zeros, zeros_like } from "../_generated/functions.js";
import { float32 } from "../dtype.js";
import {
  Optimizer,
  checkImplementation,
  checkNonNegative,
  groupByDeviceAndDtype,
  type ImplementationOptions,
  type Params,
  type ParamGroup,
  type ParamState,
  type StateValue,
} from "./optimizer.js";
import { ValueError } from "../errors.js";
import { checkOptions, type OptionNames } from "../_options.js";

export interface AdamOptions extends ImplementationOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weight_decay: number;
  amsgrad: boolean;
  maximize: boolean;
  /** Honoured as with fused=True: the kernel keeps `step` on the parameter's device either way. */
  capturable: boolean;
  decoupled_weight_decay: boolean;
}

export type AdamWOptions = Omit<AdamOptions, "decoupled_weight_decay">;

const ADAMW_OPTIONS: OptionNames<AdamWOptions> = {
  lr: true,
  betas: true,
  eps: true,
  weight_decay: true,
  amsgrad: true,
  maximize: true,
  foreach: true,
  capturable: true,
  differentiable: true,
  fused: true,
};
const ADAM_OPTIONS: OptionNames<AdamOptions> = { ...ADAMW_OPTIONS, decoupled_weight_decay: true };

function checkAdam(owner: string, d: AdamOptions): void {
  checkImplementation(owner, d);
  checkNonNegative(d.lr, "learning rate");
  checkNonNegative(d.eps, "epsilon value");
  if (!(d.betas[0] >= 0 && d.betas[0] < 1)) throw new ValueError(`Invalid beta parameter at index 0: ${d.betas[0]}`);
  if (!(d.betas[1] >= 0 && d.betas[1] < 1)) throw new ValueError(`Invalid beta parameter at index 1: ${d.betas[1]}`);
  checkNonNegative(d.weight_decay, "weight_decay value");
}

export class Adam extends Optimizer<AdamOptions> {
  constructor(params: Params<AdamOptions>, opts: Partial<AdamOptions> = {}) {
    checkOptions("Adam.__init__", opts, ADAM_OPTIONS);
    const d: AdamOptions = {
      lr: 1e-3,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weight_decay: 0,
      amsgrad: false,
      maximize: false,
      foreach: null,
      capturable: false,
      differentiable: false,
      fused: null,
      decoupled_weight_decay: false,
      ...opts,
    };
    checkAdam(new.target.name, d);
    super(params, d);
  }

  protected _stepGroup(group: ParamGroup<AdamOptions>): void {
    const init = (p: Tensor): ParamState => {
      const s: ParamState = { step: zeros([], { dtype: float32, device: p.device }), exp_avg: zeros_like(p), exp_avg_sq: zeros_like(p) };
      if (group.amsgrad) s.max_exp_avg_sq = zeros_like(p);
      return s;
    };
    const { params, grads, states } = this._withGrads(group, init);
    if (params.length === 0) return;
    const col = (k: string): Tensor[] => states.map((s) => s[k] as Tensor);
    const lists = [params, grads, col("exp_avg"), col("exp_avg_sq"), group.amsgrad ? col("max_exp_avg_sq") : params, col("step")];
    const kernel = group.decoupled_weight_decay ? _fused_adamw_ : _fused_adam_;
    for (const [p, g, m, v, vmax, steps] of groupByDeviceAndDtype(lists)) {
      _foreach_add_(steps, 1);
      kernel(p, g, m, v, group.amsgrad ? vmax : [], steps, {
        lr: group.lr,
        beta1: group.betas[0],
        beta2: group.betas[1],
        weight_decay: group.weight_decay,
        eps: group.eps,
        amsgrad: group.amsgrad,
        maximize: group.maximize,
      });
    }
  }

  protected override _castStateValue(p: Tensor, key: string, v: StateValue): StateValue {
    // The fused kernel reads `step` on the parameter's device as float32.
    if (key === "step" && v !== null && typeof v === "object") return v.to({ dtype: float32, device: p.device });
    return super._castStateValue(p, key, v);
  }
}

/** Adam with decoupled weight decay (weight_decay defaults to 1e-2). */
export class AdamW extends Adam {
  constructor(params: Params<AdamOptions>, opts: Partial<AdamWOptions> = {}) {
    checkOptions("AdamW.__init__", opts, ADAMW_OPTIONS);
    super(params, { weight_decay: 1e-2, ...opts, decoupled_weight_decay: true });
  }
}
