// torch.nn.init: the same arithmetic and the same sequence of random draws as torch/nn/init.py, so a
// seeded initialisation gives Python's values bit for bit.
import type { Tensor } from "../tensor.js";
import type { Generator } from "../generator.js";
import { no_grad } from "../autograd/grad_mode.js";
import { empty_like, full, where } from "../_generated/functions.js";
import { ValueError } from "../errors.js";
import { checkOptions, type OptionNames } from "../_options.js";

export type Nonlinearity =
  | "linear"
  | "conv1d"
  | "conv2d"
  | "conv3d"
  | "conv_transpose1d"
  | "conv_transpose2d"
  | "conv_transpose3d"
  | "sigmoid"
  | "tanh"
  | "relu"
  | "leaky_relu"
  | "selu";
export type FanMode = "fan_in" | "fan_out";

export interface Gen {
  generator?: Generator | null;
}

const GEN: OptionNames<Gen> = { generator: true };

export function calculate_gain(nonlinearity: Nonlinearity, param: number | null = null): number {
  switch (nonlinearity) {
    case "linear":
    case "conv1d":
    case "conv2d":
    case "conv3d":
    case "conv_transpose1d":
    case "conv_transpose2d":
    case "conv_transpose3d":
    case "sigmoid":
      return 1;
    case "tanh":
      return 5.0 / 3;
    case "relu":
      return Math.sqrt(2.0);
    case "leaky_relu": {
      const slope = param ?? 0.01;
      if (typeof slope !== "number") throw new ValueError(`negative_slope ${String(slope)} not a valid number`);
      return Math.sqrt(2.0 / (1 + slope ** 2));
    }
    case "selu":
      return 3.0 / 4;
    default:
      throw new ValueError(`Unsupported nonlinearity ${String(nonlinearity)}`);
  }
}

export function _calculate_fan_in_and_fan_out(tensor: Tensor): [number, number] {
  const shape = tensor.shape;
  if (shape.length < 2) throw new ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions");
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return [shape[1] * receptive, shape[0] * receptive];
}

function correctFan(tensor: Tensor, mode: string): number {
  const m = mode.toLowerCase();
  if (m !== "fan_in" && m !== "fan_out") throw new ValueError(`Mode ${mode} not supported, please use one of ['fan_in', 'fan_out']`);
  const [fanIn, fanOut] = _calculate_fan_in_and_fan_out(tensor);
  return m === "fan_in" ? fanIn : fanOut;
}

export function uniform_(tensor: Tensor, a = 0.0, b = 1.0, opts: Gen = {}): Tensor {
  checkOptions("uniform_", opts, GEN);
  return no_grad(() => tensor.uniform_(a, b, { generator: opts.generator ?? null }));
}

export function normal_(tensor: Tensor, mean = 0.0, std = 1.0, opts: Gen = {}): Tensor {
  checkOptions("normal_", opts, GEN);
  return no_grad(() => tensor.normal_(mean, std, { generator: opts.generator ?? null }));
}

export function constant_(tensor: Tensor, val: number): Tensor {
  return no_grad(() => tensor.fill_(val));
}

export function zeros_(tensor: Tensor): Tensor {
  return no_grad(() => tensor.zero_());
}

export function ones_(tensor: Tensor): Tensor {
  return constant_(tensor, 1.0);
}

export interface KaimingOptions extends Gen {
  a?: number;
  mode?: FanMode;
  nonlinearity?: Nonlinearity;
}

const KAIMING: OptionNames<KaimingOptions> = { ...GEN, a: true, mode: true, nonlinearity: true };

function kaimingStd(tensor: Tensor, { a = 0, mode = "fan_in", nonlinearity = "leaky_relu" }: KaimingOptions): number {
  return calculate_gain(nonlinearity, a) / Math.sqrt(correctFan(tensor, mode));
}

export function kaiming_uniform_(tensor: Tensor, opts: KaimingOptions = {}): Tensor {
  checkOptions("kaiming_uniform_", opts, KAIMING);
  if (tensor.shape.includes(0)) return tensor;
  const bound = Math.sqrt(3.0) * kaimingStd(tensor, opts);
  return uniform_(tensor, -bound, bound, { generator: opts.generator });
}

export function kaiming_normal_(tensor: Tensor, opts: KaimingOptions = {}): Tensor {
  checkOptions("kaiming_normal_", opts, KAIMING);
  if (tensor.shape.includes(0)) return tensor;
  return normal_(tensor, 0, kaimingStd(tensor, opts), { generator: opts.generator });
}

function xavierStd(tensor: Tensor, gain: number): number {
  const [fanIn, fanOut] = _calculate_fan_in_and_fan_out(tensor);
  return gain * Math.sqrt(2.0 / (fanIn + fanOut));
}

export function xavier_uniform_(tensor: Tensor, gain = 1.0, opts: Gen = {}): Tensor {
  checkOptions("xavier_uniform_", opts, GEN);
  const a = Math.sqrt(3.0) * xavierStd(tensor, gain);
  return uniform_(tensor, -a, a, opts);
}

export function xavier_normal_(tensor: Tensor, gain = 1.0, opts: Gen = {}): Tensor {
  checkOptions("xavier_normal_", opts, GEN);
  return normal_(tensor, 0.0, xavierStd(tensor, gain), opts);
}

// Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): only decides which of Python's two sampling
// strategies trunc_normal_ takes, so it need not be correctly rounded.
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return x >= 0 ? y : -y;
}

const normCdf = (x: number): number => (1.0 + erf(x / Math.sqrt(2.0))) / 2.0;

export interface TruncNormalOptions extends Gen {
  mean?: number;
  std?: number;
  a?: number;
  b?: number;
}

/** Normal(mean, std) truncated to [a, b], drawn like torch 2.13 (rejection sampling). */
export function trunc_normal_(tensor: Tensor, opts: TruncNormalOptions = {}): Tensor {
  checkOptions("trunc_normal_", opts, { ...GEN, mean: true, std: true, a: true, b: true });
  const { mean = 0.0, std = 1.0, a = -2.0, b = 2.0, generator = null } = opts;
  return no_grad(() => {
    const p = normCdf((b - mean) / std) - normCdf((a - mean) / std);
    if (p > 0.3) {
      const lo = full([], a, { dtype: tensor.dtype }).item();
      const hi = full([], b, { dtype: tensor.dtype }).item();
      let result = tensor.normal_(mean, std, { generator });
      for (;;) {
        const mask = result.lt(lo).logical_or(result.gt(hi));
        if (!mask.any().item()) break;
        result = where(mask, empty_like(result).normal_(mean, std, { generator }), result);
      }
      if (result !== tensor) tensor.copy_(result);
      return tensor;
    }
    const mode = Math.max(a, Math.min(mean, b));
    const logPeak = -0.5 * ((mode - mean) / std) ** 2;
    const candidates = empty_like(tensor);
    const acceptBuf = empty_like(tensor);
    const logPdfMinusPeak = (c: Tensor): Tensor => c.sub_(mean).div_(std).pow_(2).mul_(-0.5).sub_(logPeak);
    tensor.uniform_(a, b, { generator });
    candidates.copy_(tensor);
    logPdfMinusPeak(candidates);
    let pending = acceptBuf.uniform_(0, 1, { generator }).log_().gt(candidates);
    if (!pending.any().item()) return tensor;
    let result = tensor;
    for (;;) {
      candidates.uniform_(a, b, { generator });
      result = where(pending, candidates, result);
      logPdfMinusPeak(candidates);
      pending = where(pending, acceptBuf.uniform_(0, 1, { generator }).log_().gt(candidates), pending);
      if (!pending.any().item()) break;
    }
    tensor.copy_(result);
    return tensor;
  });
}
