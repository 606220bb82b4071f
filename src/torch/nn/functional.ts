// torch.nn.functional: the ATen ops behind the layers, with Python's argument handling (reduction
// names, padding_idx normalisation, defaults).
import { ValueError } from "../errors.js";
import { Tensor } from "../tensor.js";
import type { dtype } from "../dtype.js";
import * as aten from "../_generated/functions.js";
import { no_grad } from "../autograd/grad_mode.js";
import { argTypeName } from "../_type_name.js";
import { checkOptions, type OptionNames } from "../_options.js";
import * as tessera_ops from "../_generated/tessera_ops.js";

export type Reduction = "none" | "mean" | "sum";

/** Python's `_Reduction.get_enum`. */
export function reductionEnum(reduction: string): number {
  switch (reduction) {
    case "none":
      return 0;
    case "mean":
      return 1;
    case "sum":
      return 2;
    default:
      throw new ValueError(`${reduction} is not a valid value for reduction`);
  }
}

function checkP(p: number, what: string): void {
  if (!(p >= 0 && p <= 1)) throw new ValueError(`${what} probability has to be between 0 and 1, but got ${p}`);
}

// aten::linear, except that a float32 CPU product of 2^20 multiply-adds and 4 rows or more runs in
// oneDNN (tessera::linear, native/src/cpu_linear.cc).
export function linear(input: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  return tessera_ops.linear(input, weight, bias);
}

export interface EmbeddingOptions {
  padding_idx?: number | null;
  max_norm?: number | null;
  norm_type?: number;
  scale_grad_by_freq?: boolean;
  sparse?: boolean;
}

export const EMBEDDING_OPTIONS: OptionNames<EmbeddingOptions> = {
  padding_idx: true,
  max_norm: true,
  norm_type: true,
  scale_grad_by_freq: true,
  sparse: true,
};

export function embedding(input: Tensor, weight: Tensor, opts: EmbeddingOptions = {}): Tensor {
  checkOptions("embedding", opts, EMBEDDING_OPTIONS);
  if (!(weight instanceof Tensor))
    throw new TypeError(`embedding(): argument 'weight' (position 2) must be Tensor, not ${argTypeName(weight)}`);
  let padding_idx = opts.padding_idx ?? null;
  const n = weight.size(0);
  if (padding_idx !== null) {
    if (padding_idx >= n || padding_idx < -n) throw new ValueError("Padding_idx must be within num_embeddings");
    if (padding_idx < 0) padding_idx += n;
  }
  if (opts.max_norm !== undefined && opts.max_norm !== null) {
    const max_norm = opts.max_norm;
    no_grad(() => aten.embedding_renorm_(weight, input.contiguous(), max_norm, opts.norm_type ?? 2.0));
  }
  return aten.embedding(weight, input, padding_idx ?? -1, opts.scale_grad_by_freq ?? false, opts.sparse ?? false);
}

export function dropout(input: Tensor, p = 0.5, training = true, inplace = false): Tensor {
  checkP(p, "dropout");
  return inplace ? aten.dropout_(input, p, training) : aten.dropout(input, p, training);
}

export function silu(input: Tensor, inplace = false): Tensor {
  return inplace ? aten.silu_(input) : aten.silu(input);
}

export interface GeluOptions {
  approximate?: "none" | "tanh";
}

export function gelu(input: Tensor, opts: GeluOptions = {}): Tensor {
  checkOptions("gelu", opts, { approximate: true });
  const { approximate = "none" } = opts;
  return aten.gelu(input, { approximate });
}

export function relu(input: Tensor, inplace = false): Tensor {
  return inplace ? aten.relu_(input) : aten.relu(input);
}

export function tanh(input: Tensor): Tensor {
  return aten.tanh(input);
}

export interface SoftmaxOptions {
  dtype?: dtype | null;
}

export function softmax(input: Tensor, dim: number, opts: SoftmaxOptions = {}): Tensor {
  checkOptions("softmax", opts, { dtype: true });
  return aten.softmax(input, dim, opts.dtype ?? null);
}

export function log_softmax(input: Tensor, dim: number, opts: SoftmaxOptions = {}): Tensor {
  checkOptions("log_softmax", opts, { dtype: true });
  return aten.log_softmax(input, dim, opts.dtype ?? null);
}

export interface CrossEntropyOptions {
  weight?: Tensor | null;
  ignore_index?: number;
  reduction?: Reduction;
  label_smoothing?: number;
}

export const CROSS_ENTROPY_OPTIONS: OptionNames<CrossEntropyOptions> = {
  weight: true,
  ignore_index: true,
  reduction: true,
  label_smoothing: true,
};

export type NllLossOptions = Omit<CrossEntropyOptions, "label_smoothing">;

export function cross_entropy(input: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  checkOptions("cross_entropy", opts, CROSS_ENTROPY_OPTIONS);
  const { weight = null, ignore_index = -100, reduction = "mean", label_smoothing = 0.0 } = opts;
  return aten.cross_entropy_loss(input, target, weight, reductionEnum(reduction), ignore_index, label_smoothing);
}

export function nll_loss(input: Tensor, target: Tensor, opts: NllLossOptions = {}): Tensor {
  checkOptions("nll_loss", opts, { weight: true, ignore_index: true, reduction: true });
  const { weight = null, ignore_index = -100, reduction = "mean" } = opts;
  return aten.nll_loss_nd(input, target, weight, reductionEnum(reduction), ignore_index);
}

export interface MSELossOptions {
  reduction?: Reduction;
}

export function mse_loss(input: Tensor, target: Tensor, opts: MSELossOptions = {}): Tensor {
  checkOptions("mse_loss", opts, { reduction: true });
  const r = reductionEnum(opts.reduction ?? "mean");
  const [a, b] = aten.broadcast_tensors([input, target]);
  return aten.mse_loss(a, b, r);
}

export interface SdpaOptions {
  attn_mask?: Tensor | null;
  dropout_p?: number;
  is_causal?: boolean;
  scale?: number | null;
  enable_gqa?: boolean;
}

/** aten::scaled_dot_product_attention, so libtorch picks the flash / memory-efficient kernels. */
export function scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, opts: SdpaOptions = {}): Tensor {
  checkOptions("scaled_dot_product_attention", opts, { attn_mask: true, dropout_p: true, is_causal: true, scale: true, enable_gqa: true });
  const { attn_mask = null, dropout_p = 0.0, is_causal = false, scale = null, enable_gqa = false } = opts;
  return aten.scaled_dot_product_attention(query, key, value, attn_mask, dropout_p, is_causal, { scale, enable_gqa });
}

function shapeList(s: number | number[]): number[] {
  return typeof s === "number" ? [s] : s;
}

export function layer_norm(
  input: Tensor,
  normalized_shape: number | number[],
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  eps = 1e-5,
): Tensor {
  return aten.layer_norm(input, shapeList(normalized_shape), weight, bias, eps, true);
}

export function rms_norm(
  input: Tensor,
  normalized_shape: number | number[],
  weight: Tensor | null = null,
  eps: number | null = null,
): Tensor {
  return aten.rms_norm(input, shapeList(normalized_shape), weight, eps);
}

export function pad(
  input: Tensor,
  pad: number[],
  mode: "constant" | "reflect" | "replicate" | "circular" = "constant",
  value: number | null = null,
): Tensor {
  return aten.pad(input, pad, mode, value);
}
