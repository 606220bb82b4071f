// nn.Linear: y = x Wᵀ + b, initialised as PyTorch does (kaiming_uniform_(a=√5), bias U(±1/√fan_in)).
import type { Tensor } from "../../tensor.js";
import * as F from "../functional.js";
import * as init from "../init.js";
import type { Parameter } from "../parameter.js";
import { Module } from "./module.js";
import { FACTORY_OPTIONS, emptyParameter, intArg, type FactoryOptions } from "./_factory.js";
import { checkOptions } from "../../_options.js";

export interface LinearOptions extends FactoryOptions {
  bias?: boolean;
}

export class Linear extends Module {
  readonly in_features: number;
  readonly out_features: number;
  weight: Parameter;
  bias: Parameter | null;

  /** `new nn.Linear(in, out)`, `new nn.Linear(in, out, false)` or `new nn.Linear(in, out, {bias, device, dtype})`. */
  constructor(in_features: number, out_features: number, opts: boolean | LinearOptions = {}) {
    super();
    const o = typeof opts === "boolean" ? { bias: opts } : opts;
    checkOptions("Linear.__init__", o, { ...FACTORY_OPTIONS, bias: true });
    this.in_features = intArg("Linear", "in_features", in_features);
    this.out_features = intArg("Linear", "out_features", out_features);
    this.weight = emptyParameter([out_features, in_features], o);
    this.bias = (o.bias ?? true) ? emptyParameter([out_features], o) : null;
    this.reset_parameters();
  }

  reset_parameters(): void {
    init.kaiming_uniform_(this.weight, { a: Math.sqrt(5) });
    if (this.bias !== null) {
      const [fanIn] = init._calculate_fan_in_and_fan_out(this.weight);
      const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
      init.uniform_(this.bias, -bound, bound);
    }
  }

  override forward(input: Tensor): Tensor {
    return F.linear(input, this.weight, this.bias);
  }

  override extra_repr(): string {
    return `in_features=${this.in_features}, out_features=${this.out_features}, bias=${this.bias !== null ? "True" : "False"}`;
  }
}
