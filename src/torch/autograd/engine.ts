// The engine's functional entry points: torch.autograd.backward and torch.autograd.grad.
import { native } from "../_native.js";
import { releaseDeadCallbacks } from "../_callbacks.js";
import { isKwargs } from "../_invoke.js";
import type { Tensor } from "../tensor.js";
import { checkOptions } from "../_options.js";

function list(t: Tensor | Tensor[]): Tensor[] {
  return Array.isArray(t) ? t : [t];
}

type Gradients = Tensor | (Tensor | null)[] | null;

// Whether the backward pass now running keeps its graph (retain_graph, which defaults to
// create_graph): a custom Function may free what it kept for backward once its backward is done
// only when it does not, as libtorch frees a node's saved tensors.
let retaining = false;

/** Whether the backward pass now running keeps its graph for another (tessera's, for custom Functions). */
export function _backward_retains_graph(): boolean {
  return retaining;
}

function running<T>(retain: boolean | undefined, create: boolean | undefined, run: () => T): T {
  const outer = retaining;
  retaining = retain ?? create ?? false;
  try {
    return run();
  } finally {
    retaining = outer;
  }
}

// Python passes the gradients positionally or by keyword (`grad(y, x, gy)`, `grad(y, x,
// grad_outputs=gy)`); here the third argument is either those gradients or the options object.
function splitArgs<O extends object>(third: Gradients | O | undefined, options: O | undefined, key: keyof O): [Gradients, O] {
  if (third === undefined || isKwargs(third)) {
    const o = (third ?? {}) as O;
    return [(o[key] as Gradients | undefined) ?? null, o];
  }
  return [third as Gradients, options ?? ({} as O)];
}

function perOutput(gradients: Gradients, n: number): (Tensor | null)[] {
  return gradients === null ? new Array<null>(n).fill(null) : Array.isArray(gradients) ? gradients : [gradients];
}

export interface GradOptions {
  grad_outputs?: Gradients;
  retain_graph?: boolean;
  create_graph?: boolean;
  allow_unused?: boolean;
}

/**
 * The gradients of `outputs` with respect to `inputs` (null for unused inputs when allowed):
 * `grad(outputs, inputs, options?)` or, as Python's positional form, `grad(outputs, inputs,
 * grad_outputs, options?)`.
 */
export function grad(outputs: Tensor | Tensor[], inputs: Tensor | Tensor[], options?: GradOptions): (Tensor | null)[];
export function grad(
  outputs: Tensor | Tensor[],
  inputs: Tensor | Tensor[],
  grad_outputs: Gradients,
  options?: Omit<GradOptions, "grad_outputs">,
): (Tensor | null)[];
export function grad(
  outputs: Tensor | Tensor[],
  inputs: Tensor | Tensor[],
  third?: Gradients | GradOptions,
  fourth?: GradOptions,
): (Tensor | null)[] {
  const [gradOutputs, options] = splitArgs(third, fourth, "grad_outputs");
  checkOptions("grad", options, { grad_outputs: true, retain_graph: true, create_graph: true, allow_unused: true });
  const outs = list(outputs);
  const result = running(
    options.retain_graph,
    options.create_graph,
    () =>
      native.autogradGrad(
        outs,
        list(inputs),
        perOutput(gradOutputs, outs.length),
        options.retain_graph ?? null,
        options.create_graph ?? false,
        options.allow_unused ?? false,
      ) as (Tensor | null)[],
  );
  releaseDeadCallbacks();
  return result;
}

export interface BackwardOptions {
  grad_tensors?: Gradients;
  retain_graph?: boolean;
  create_graph?: boolean;
  inputs?: Tensor[];
}

/** `backward(tensors, options?)` or, as Python's positional form, `backward(tensors, grad_tensors, options?)`. */
export function backward(tensors: Tensor | Tensor[], options?: BackwardOptions): void;
export function backward(tensors: Tensor | Tensor[], grad_tensors: Gradients, options?: Omit<BackwardOptions, "grad_tensors">): void;
export function backward(tensors: Tensor | Tensor[], second?: Gradients | BackwardOptions, third?: BackwardOptions): void {
  const [gradTensors, options] = splitArgs(second, third, "grad_tensors");
  checkOptions("backward", options, { grad_tensors: true, retain_graph: true, create_graph: true, inputs: true });
  const ts = list(tensors);
  running(options.retain_graph, options.create_graph, () =>
    native.backward(
      ts,
      perOutput(gradTensors, ts.length),
      options.retain_graph ?? null,
      options.create_graph ?? false,
      options.inputs ?? null,
    ),
  );
  releaseDeadCallbacks();
}
