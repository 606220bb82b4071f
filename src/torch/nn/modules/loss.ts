// Loss modules. As in PyTorch, a class weight is a registered buffer (so it moves with `.to()`).
import type { Tensor } from "../../tensor.js";
import * as F from "../functional.js";
import { Module } from "./module.js";

export class CrossEntropyLoss extends Module {
  declare weight: Tensor | null;
  readonly ignore_index: number;
  readonly reduction: F.Reduction;
  readonly label_smoothing: number;

  constructor(opts: F.CrossEntropyOptions = {}) {
    super();
    this.register_buffer("weight", opts.weight ?? null);
    this.ignore_index = opts.ignore_index ?? -100;
    this.reduction = opts.reduction ?? "mean";
    F.reductionEnum(this.reduction);
    this.label_smoothing = opts.label_smoothing ?? 0.0;
  }

  override forward(input: Tensor, target: Tensor): Tensor {
    return F.cross_entropy(input, target, this);
  }
}

export class MSELoss extends Module {
  readonly reduction: F.Reduction;

  constructor({ reduction = "mean" }: { reduction?: F.Reduction } = {}) {
    super();
    F.reductionEnum(reduction);
    this.reduction = reduction;
  }

  override forward(input: Tensor, target: Tensor): Tensor {
    return F.mse_loss(input, target, this);
  }
}
