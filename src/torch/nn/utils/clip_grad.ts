// nn.utils.clip_grad_norm_ / clip_grad_value_, as torch/nn/utils/clip_grad.py with its foreach path
// (one _foreach_norm / _foreach_mul_ call per device and dtype).
import { Tensor } from "../../tensor.js";
import { no_grad } from "../../autograd/grad_mode.js";
import { _foreach_clamp_max_, _foreach_clamp_min_, _foreach_mul_, _foreach_norm, clamp, linalg_vector_norm, stack } from "../../_generated/functions.js";
import { tensor } from "../../creation.js";

export type TensorOrTensors = Tensor | Iterable<Tensor>;

function gradsOf(parameters: TensorOrTensors): Tensor[] {
  const params = parameters instanceof Tensor ? [parameters] : [...parameters];
  const grads: Tensor[] = [];
  for (const p of params) {
    const g = p.grad;
    if (g !== null) grads.push(g);
  }
  return grads;
}

/** Tensors grouped by (device, dtype), in first-seen order, as _group_tensors_by_device_and_dtype. */
export function groupByDeviceAndDtype(tensors: Tensor[]): Tensor[][] {
  const groups = new Map<string, Tensor[]>();
  for (const t of tensors) {
    const k = `${t.device}|${t.dtype.name}`;
    const g = groups.get(k);
    if (g === undefined) groups.set(k, [t]);
    else g.push(t);
  }
  return [...groups.values()];
}

function normType(n: number | "inf"): number {
  return n === "inf" ? Infinity : n;
}

export function get_total_norm(tensors: TensorOrTensors, norm_type: number | "inf" = 2.0, error_if_nonfinite = false): Tensor {
  const list = tensors instanceof Tensor ? [tensors] : [...tensors];
  const ord = normType(norm_type);
  if (list.length === 0) return tensor(0.0);
  return no_grad(() => {
    const first = list[0].device;
    const norms: Tensor[] = [];
    for (const group of groupByDeviceAndDtype(list)) norms.push(..._foreach_norm(group, ord));
    const total = linalg_vector_norm(stack(norms.map((n) => n.to(first))), ord);
    if (error_if_nonfinite && !total.isfinite().item()) {
      throw new Error(
        `The total norm of order ${ord === Infinity ? "inf" : ord.toFixed(1)} for gradients from \`parameters\` is non-finite, so it cannot be clipped. To disable this error and scale the gradients by the non-finite norm anyway, set \`error_if_nonfinite=False\``,
      );
    }
    return total;
  });
}

export function clip_grads_with_norm_(parameters: TensorOrTensors, max_norm: number, total_norm: Tensor): void {
  const grads = gradsOf(parameters);
  if (grads.length === 0) return;
  no_grad(() => {
    const coef = clamp(total_norm.add(1e-6).reciprocal().mul(max_norm), null, 1.0);
    for (const group of groupByDeviceAndDtype(grads)) _foreach_mul_(group, coef.to(group[0].device));
  });
}

/** Scales the gradients so their joint norm is at most max_norm; returns the norm before clipping. */
export function clip_grad_norm_(
  parameters: TensorOrTensors,
  max_norm: number,
  norm_type: number | "inf" = 2.0,
  error_if_nonfinite = false,
): Tensor {
  const params = parameters instanceof Tensor ? [parameters] : [...parameters];
  const total = get_total_norm(gradsOf(params), norm_type, error_if_nonfinite);
  clip_grads_with_norm_(params, max_norm, total);
  return total;
}

/** Clamps every gradient to [-clip_value, clip_value] in place. */
export function clip_grad_value_(parameters: TensorOrTensors, clip_value: number): void {
  no_grad(() => {
    for (const group of groupByDeviceAndDtype(gradsOf(parameters))) {
      _foreach_clamp_min_(group, -clip_value);
      _foreach_clamp_max_(group, clip_value);
    }
  });
}
