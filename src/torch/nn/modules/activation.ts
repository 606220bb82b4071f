// Activation and dropout layers: stateless wrappers over nn.functional.
import type { Tensor } from "../../tensor.js";
import * as F from "../functional.js";
import { Module } from "./module.js";
import { ValueError } from "../../errors.js";
import { checkOptions } from "../../_options.js";

export class ReLU extends Module {
  constructor(readonly inplace = false) {
    super();
  }

  override forward(input: Tensor): Tensor {
    return F.relu(input, this.inplace);
  }

  override extra_repr(): string {
    return this.inplace ? "inplace=True" : "";
  }
}

export class SiLU extends Module {
  constructor(readonly inplace = false) {
    super();
  }

  override forward(input: Tensor): Tensor {
    return F.silu(input, this.inplace);
  }

  override extra_repr(): string {
    return this.inplace ? "inplace=True" : "";
  }
}

export class GELU extends Module {
  readonly approximate: "none" | "tanh";

  /** `new nn.GELU()`, `new nn.GELU("tanh")` or `new nn.GELU({approximate: "tanh"})`. */
  constructor(approximate: "none" | "tanh" | F.GeluOptions = "none") {
    super();
    const o = typeof approximate === "string" ? { approximate } : approximate;
    checkOptions("GELU.__init__", o, { approximate: true });
    this.approximate = o.approximate ?? "none";
  }

  override forward(input: Tensor): Tensor {
    return F.gelu(input, { approximate: this.approximate });
  }

  override extra_repr(): string {
    return `approximate='${this.approximate}'`;
  }
}

export class Tanh extends Module {
  override forward(input: Tensor): Tensor {
    return F.tanh(input);
  }
}

export class Dropout extends Module {
  constructor(
    readonly p = 0.5,
    readonly inplace = false,
  ) {
    super();
    if (!(p >= 0 && p <= 1)) throw new ValueError(`dropout probability has to be between 0 and 1, but got ${p}`);
  }

  override forward(input: Tensor): Tensor {
    return F.dropout(input, this.p, this.training, this.inplace);
  }

  override extra_repr(): string {
    return `p=${this.p}, inplace=${this.inplace ? "True" : "False"}`;
  }
}
