// torch.autograd.Function written in TypeScript. forward runs under no_grad; its outputs are then
// attached to a native graph node whose backward calls this class's static backward on the JS
// main thread (see native/src/autograd.cc for the threading).
import { NotImplementedError, RuntimeError } from "../errors.js";
import { native } from "../_native.js";
import { dropCallback, registerCallback } from "../_callbacks.js";
import { Tensor } from "../tensor.js";
import { is_grad_enabled, no_grad } from "./grad_mode.js";
import { typeName } from "../_type_name.js";
import { escape } from "../memory.js";

export class FunctionCtx {
  saved_tensors: Tensor[] = [];
  /** One flag per forward argument: whether a gradient is needed for it. */
  needs_input_grad: boolean[] = [];
  private nonDifferentiable = new Set<Tensor>();
  [key: string]: unknown;

  save_for_backward(...tensors: (Tensor | null)[]): void {
    this.saved_tensors = tensors.filter((t): t is Tensor => t !== null);
  }

  mark_non_differentiable(...tensors: Tensor[]): void {
    for (const t of tensors) this.nonDifferentiable.add(t);
  }

  /** @internal */
  isNonDifferentiable(t: Tensor): boolean {
    return this.nonDifferentiable.has(t);
  }
}

// Non-tensor outputs pass through unchanged, as in PyTorch; they get no gradient.
type ForwardResult = unknown;
type BackwardResult = Tensor | null | undefined | (Tensor | null | undefined)[];

export interface FunctionClass {
  name: string;
  forward(ctx: FunctionCtx, ...args: never[]): ForwardResult;
  backward(ctx: FunctionCtx, ...grads: Tensor[]): BackwardResult;
}

type Rest<F> = F extends (ctx: FunctionCtx, ...args: infer A) => unknown ? A : never;

// Built outside apply() on purpose: a closure created there would share apply's context, which
// holds the wrapped outputs; the registry would then keep the outputs alive, and the outputs keep
// the graph node that owns the callback — a cycle through a GC root that no collection frees.
function backwardCallback(
  backward: (ctx: FunctionCtx, ...grads: Tensor[]) => BackwardResult,
  ctx: FunctionCtx,
  name: string,
  numArgs: number,
  tensorArgs: number[],
): (grads: unknown[]) => unknown {
  return (grads) => {
    const r = backward(ctx, ...(grads as Tensor[]));
    const perArg = Array.isArray(r) ? r : [r];
    if (perArg.length !== numArgs) {
      throw new RuntimeError(`function ${name} returned an incorrect number of gradients (expected ${numArgs}, got ${perArg.length})`);
    }
    perArg.forEach((g: unknown, i) => {
      if (g === null || g === undefined) return;
      if (!tensorArgs.includes(i)) {
        throw new TypeError(
          `function ${name} returned a gradient different than null at position ${i + 1}, but the corresponding forward input was not a Tensor`,
        );
      }
      if (!(g instanceof Tensor)) {
        const hint = g instanceof Promise ? " (backward must return its gradients synchronously)" : "";
        throw new TypeError(
          `function ${name} returned a gradient of type ${typeName(g)} at position ${i + 1}; expected a Tensor or null${hint}`,
        );
      }
    });
    return tensorArgs.map((i) => perArg[i] ?? null);
  };
}

/**
 * Subclass with `static forward(ctx, ...args)` and `static backward(ctx, ...grads)`, then call
 * `MyFn.apply(...args)`. backward returns one gradient (or null) per forward argument.
 */
export class Function {
  static forward(ctx: FunctionCtx, ...args: unknown[]): ForwardResult {
    throw new NotImplementedError(`${this.name}.forward is not defined`);
  }

  static backward(ctx: FunctionCtx, ...grads: Tensor[]): BackwardResult {
    throw new NotImplementedError(`${this.name}.backward is not defined`);
  }

  static apply<F extends FunctionClass>(this: F, ...args: Rest<F["forward"]>): ReturnType<F["forward"]> {
    const ctx = new FunctionCtx();
    const argList = args as unknown[];
    ctx.needs_input_grad = argList.map((a) => a instanceof Tensor && a.requires_grad);
    const result = no_grad(() => (this.forward as (ctx: FunctionCtx, ...a: unknown[]) => ForwardResult)(ctx, ...argList));
    escape(ctx); // what forward saved or set on ctx lives until backward, past any scope
    if (!is_grad_enabled() || !ctx.needs_input_grad.some(Boolean)) return result as ReturnType<F["forward"]>;
    const outputs: unknown[] = Array.isArray(result) ? result : [result];
    const differentiable = (t: unknown): t is Tensor => t instanceof Tensor && !ctx.isNonDifferentiable(t);
    const tensorArgs = argList.map((a, i) => (a instanceof Tensor ? i : -1)).filter((i) => i >= 0);
    const name = `${this.name}Backward`;
    const id = registerCallback(backwardCallback(this.backward.bind(this), ctx, name, argList.length, tensorArgs));
    let wrapped: Tensor[];
    try {
      wrapped = native.createFunctionNode(
        id,
        name,
        tensorArgs.map((i) => argList[i] as Tensor),
        outputs.map((t) => (differentiable(t) ? t : null)),
      ) as Tensor[];
    } catch (e) {
      dropCallback(id);
      throw e;
    }
    const final = outputs.map((t, i) => (differentiable(t) ? wrapped[i] : t));
    return (Array.isArray(result) ? final : final[0]) as ReturnType<F["forward"]>;
  }
}
