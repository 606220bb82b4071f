// nn.LayerNorm and nn.RMSNorm over the trailing `normalized_shape` dimensions.
import type { Tensor } from "../../tensor.js";
import * as F from "../functional.js";
import * as init from "../init.js";
import type { Parameter } from "../parameter.js";
import { Module } from "./module.js";
import { FACTORY_OPTIONS, emptyParameter, shapeArg, type FactoryOptions } from "./_factory.js";
import { checkOptions } from "../../_options.js";

const pyBool = (b: boolean): string => (b ? "True" : "False");

export interface LayerNormOptions extends FactoryOptions {
  eps?: number;
  elementwise_affine?: boolean;
  bias?: boolean;
}

export class LayerNorm extends Module {
  readonly normalized_shape: number[];
  readonly eps: number;
  readonly elementwise_affine: boolean;
  weight: Parameter | null;
  bias: Parameter | null;

  constructor(normalized_shape: number | number[], opts: LayerNormOptions = {}) {
    super();
    checkOptions("LayerNorm.__init__", opts, { ...FACTORY_OPTIONS, eps: true, elementwise_affine: true, bias: true });
    this.normalized_shape = shapeArg("LayerNorm", "normalized_shape", normalized_shape);
    this.eps = opts.eps ?? 1e-5;
    this.elementwise_affine = opts.elementwise_affine ?? true;
    this.weight = this.elementwise_affine ? emptyParameter(this.normalized_shape, opts) : null;
    this.bias = this.elementwise_affine && (opts.bias ?? true) ? emptyParameter(this.normalized_shape, opts) : null;
    this.reset_parameters();
  }

  reset_parameters(): void {
    if (this.weight !== null) init.ones_(this.weight);
    if (this.bias !== null) init.zeros_(this.bias);
  }

  override forward(input: Tensor): Tensor {
    return F.layer_norm(input, this.normalized_shape, this.weight, this.bias, this.eps);
  }

  override extra_repr(): string {
    return `(${this.normalized_shape.join(", ")}${this.normalized_shape.length === 1 ? "," : ""}), eps=${this.eps}, elementwise_affine=${pyBool(this.elementwise_affine)}`;
  }
}

export interface RMSNormOptions extends FactoryOptions {
  eps?: number | null;
  elementwise_affine?: boolean;
}

export class RMSNorm extends Module {
  readonly normalized_shape: number[];
  readonly eps: number | null;
  readonly elementwise_affine: boolean;
  weight: Parameter | null;

  constructor(normalized_shape: number | number[], opts: RMSNormOptions = {}) {
    super();
    checkOptions("RMSNorm.__init__", opts, { ...FACTORY_OPTIONS, eps: true, elementwise_affine: true });
    this.normalized_shape = shapeArg("RMSNorm", "normalized_shape", normalized_shape);
    this.eps = opts.eps ?? null;
    this.elementwise_affine = opts.elementwise_affine ?? true;
    this.weight = this.elementwise_affine ? emptyParameter(this.normalized_shape, opts) : null;
    this.reset_parameters();
  }

  reset_parameters(): void {
    if (this.weight !== null) init.ones_(this.weight);
  }

  override forward(input: Tensor): Tensor {
    return F.rms_norm(input, this.normalized_shape, this.weight, this.eps);
  }

  override extra_repr(): string {
    return `(${this.normalized_shape.join(", ")}${this.normalized_shape.length === 1 ? "," : ""}), eps=${this.eps ?? "None"}, elementwise_affine=${pyBool(this.elementwise_affine)}`;
  }
}
