// Loss modules. As in PyTorch, a class weight is a registered buffer (so it moves with `.to()`).
import type { Tensor } from "../../tensor.js";
import * as F from "../functional.js";
import { Module } from "./module.js";
import { checkOptions } from "../../_options.js";

export class CrossEntropyLoss extends Module {
  declare weight: Tensor | null;
  readonly ignore_index: number;
  readonly reduction: F.Reduction;
  readonly label_smoothing: number;

  constructor(opts: F.CrossEntropyOptions = {}) {
    super();
    checkOptions("CrossEntropyLoss.__init__", opts, F.CROSS_ENTROPY_OPTIONS);
    this.register_buffer("weight", opts.weight ?? null);
    this.ignore_index = opts.ignore_index ?? -100;
    this.reduction = opts.reduction ?? "mean";
    F.reductionEnum(this.reduction);
    this.label_smoothing = opts.label_smoothing ?? 0.0;
  }

  override forward(input: Tensor, target: Tensor): Tensor {
    const { weight, ignore_index, reduction, label_smoothing } = this;
    return F.cross_entropy(input, target, { weight, ignore_index, reduction, label_smoothing });
  }
}

export class MSELoss extends Module {
  readonly reduction: F.Reduction;

  constructor(opts: F.MSELossOptions = {}) {
    super();
    // Python's MSELoss hands its keyword arguments to _Loss.__init__, whose name the TypeError gives.
    checkOptions("_Loss.__init__", opts, { reduction: true });
    this.reduction = opts.reduction ?? "mean";
    F.reductionEnum(this.reduction);
  }

  override forward(input: Tensor, target: Tensor): Tensor {
    return F.mse_loss(input, target, { reduction: this.reduction });
  }
}
