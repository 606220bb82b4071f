// The engine's functional entry points: torch.autograd.backward and torch.autograd.grad.
import { native } from "../_native.js";
import { releaseDeadCallbacks } from "../_callbacks.js";
import type { Tensor } from "../tensor.js";

function list(t: Tensor | Tensor[]): Tensor[] {
  return Array.isArray(t) ? t : [t];
}

export interface GradOptions {
  grad_outputs?: Tensor | (Tensor | null)[] | null;
  retain_graph?: boolean;
  create_graph?: boolean;
  allow_unused?: boolean;
}

/** The gradients of `outputs` with respect to `inputs` (null for unused inputs when allowed). */
export function grad(outputs: Tensor | Tensor[], inputs: Tensor | Tensor[], options: GradOptions = {}): (Tensor | null)[] {
  const outs = list(outputs);
  const gradOutputs = options.grad_outputs == null ? outs.map(() => null) : Array.isArray(options.grad_outputs) ? options.grad_outputs : [options.grad_outputs];
  const result = native.autogradGrad(
    outs,
    list(inputs),
    gradOutputs,
    options.retain_graph ?? null,
    options.create_graph ?? false,
    options.allow_unused ?? false,
  ) as (Tensor | null)[];
  releaseDeadCallbacks();
  return result;
}

export interface BackwardOptions {
  grad_tensors?: Tensor | (Tensor | null)[] | null;
  retain_graph?: boolean;
  create_graph?: boolean;
  inputs?: Tensor[];
}

export function backward(tensors: Tensor | Tensor[], options: BackwardOptions = {}): void {
  const ts = list(tensors);
  const grads = options.grad_tensors == null ? ts.map(() => null) : Array.isArray(options.grad_tensors) ? options.grad_tensors : [options.grad_tensors];
  native.backward(
    ts,
    grads,
    options.retain_graph ?? null,
    options.create_graph ?? false,
    options.inputs ?? null,
  );
  releaseDeadCallbacks();
}
