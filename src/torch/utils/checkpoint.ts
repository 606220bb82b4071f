// torch.utils.checkpoint: trades compute for memory. checkpoint(fn, ...args) runs fn without
// recording a graph and keeps only its inputs; the backward re-runs fn with grad enabled, under the
// forward's CPU RNG and autocast state, and back-propagates through that recomputation with a nested
// torch.autograd.backward. This is PyTorch's reentrant variant (use_reentrant=True): parameters used
// inside fn get their .grad accumulated by that nested backward, and an output depends on the graph
// only when some tensor input requires grad. The other variant needs saved-tensor hooks, which the
// addon does not have.
import { native, type NativeHandle } from "../_native.js";
import { isKwargs } from "../_invoke.js";
import { Tensor, type RemovableHandle } from "../tensor.js";
import { Function, type FunctionCtx } from "../autograd/function.js";
import { backward } from "../autograd/engine.js";
import { enable_grad, is_grad_enabled } from "../autograd/grad_mode.js";
import { autocast, get_autocast_dtype, is_autocast_available, is_autocast_enabled, type AutocastOptions } from "../amp/autocast_mode.js";
import type { Module } from "../nn/modules/module.js";
import { NotImplementedError, RuntimeError, ValueError } from "../errors.js";

export interface CheckpointOptions {
  /** Only `true` (the default) is supported; see the file comment. */
  use_reentrant?: boolean;
  /** Replays the forward's CPU RNG state in the recomputation, so dropout masks match (default true). */
  preserve_rng_state?: boolean;
}

/**
 * Python's checkpoint() options that only its non-reentrant variant uses: with use_reentrant=True
 * it refuses context_fn and debug, and ignores determinism_check and early_stop; so does this one.
 */
interface NonReentrantOptions {
  context_fn?: unknown;
  debug?: boolean;
  determinism_check?: string;
  early_stop?: boolean;
}

type AutocastState = AutocastOptions & { device_type: string };

/** One checkpoint() call, shared by its forward and backward. */
interface Checkpointed {
  run(inputs: Tensor[]): unknown;
  preserve_rng_state: boolean;
  /** fn's output as the forward built it; checkpoint() takes it back right after apply. */
  output?: unknown;
  rng_state?: Tensor;
  autocast?: AutocastState[];
}

// Tensors nested in arrays and plain objects count too, so a layer's `(hidden, { cos, sin, mask })`
// and an array-of-tensors output go through one flat list of tensors.
function mapTensors(v: unknown, f: (t: Tensor) => Tensor): unknown {
  if (v instanceof Tensor) return f(v);
  if (Array.isArray(v)) return v.map((x) => mapTensors(x, f));
  if (isKwargs(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mapTensors(x, f)]));
  return v;
}

function tensorsIn(v: unknown): Tensor[] {
  const out: Tensor[] = [];
  mapTensors(v, (t) => {
    out.push(t);
    return t;
  });
  return out;
}

function withTensors(v: unknown, tensors: Tensor[]): unknown {
  let i = 0;
  return mapTensors(v, () => tensors[i++]);
}

let defaultGenerator: NativeHandle | undefined;

function cpuGenerator(): NativeHandle {
  return (defaultGenerator ??= native.defaultGenerator());
}

// fork_rng: the surrounding stream continues as if the recomputation had drawn nothing.
function withRngState<T>(state: Tensor | undefined, fn: () => T): T {
  if (state === undefined) return fn();
  const outer = native.generatorGetState(cpuGenerator());
  native.generatorSetState(cpuGenerator(), state);
  try {
    return fn();
  } finally {
    native.generatorSetState(cpuGenerator(), outer as Tensor);
  }
}

function autocastState(): AutocastState[] {
  return ["cpu", "cuda"].filter(is_autocast_available).map((device_type) => ({
    device_type,
    enabled: is_autocast_enabled(device_type),
    dtype: get_autocast_dtype(device_type),
  }));
}

function withAutocast<T>(states: AutocastState[], fn: () => T): T {
  return states.reduceRight<() => T>((inner, s) => () => autocast(s, inner), fn)();
}

class CheckpointFunction extends Function {
  static override forward(ctx: FunctionCtx, state: Checkpointed, ...inputs: Tensor[]): Tensor[] {
    ctx.checkpoint = state;
    if (state.preserve_rng_state) state.rng_state = native.generatorGetState(cpuGenerator()) as Tensor;
    state.autocast = autocastState();
    ctx.save_for_backward(...inputs);
    state.output = state.run(inputs);
    return tensorsIn(state.output);
  }

  static override backward(ctx: FunctionCtx, ...grads: Tensor[]): (Tensor | null)[] {
    const state = ctx.checkpoint as Checkpointed;
    const detached = ctx.saved_tensors.map((t) => t.detach().requires_grad_(t.requires_grad));
    recomputing++;
    let outputs: Tensor[];
    try {
      outputs = withRngState(state.rng_state, () =>
        enable_grad(() => withAutocast(state.autocast ?? [], () => tensorsIn(state.run(detached)))),
      );
    } finally {
      recomputing--;
    }
    const used = outputs.map((o, i) => (o.requires_grad ? i : -1)).filter((i) => i >= 0);
    if (used.length === 0) throw new RuntimeError("none of output has requires_grad=True, this checkpoint() is not necessary");
    backward(
      used.map((i) => outputs[i]),
      used.map((i) => grads[i]),
    );
    return [null, ...detached.map((t) => t.grad)];
  }
}

let recomputing = 0;

/** Whether a checkpoint's backward is re-running its forward now (hooks that free weights after a forward keep them: the backward needs them next). */
export function _is_recomputing(): boolean {
  return recomputing > 0;
}

let warnedNoGradInputs = false;

function preserveRngState(options: CheckpointOptions): boolean {
  const { use_reentrant = true, preserve_rng_state = true } = options;
  if (typeof use_reentrant !== "boolean") throw new TypeError(`checkpoint: use_reentrant must be a boolean, got ${typeof use_reentrant}`);
  if (typeof preserve_rng_state !== "boolean")
    throw new TypeError(`checkpoint: preserve_rng_state must be a boolean, got ${typeof preserve_rng_state}`);
  if (!use_reentrant) {
    throw new NotImplementedError(
      "checkpoint: use_reentrant=false (the variant built on saved-tensor hooks) is not supported; use use_reentrant: true",
    );
  }
  return preserve_rng_state;
}

function run(fn: (...args: unknown[]) => unknown, args: unknown[], preserve_rng_state: boolean): unknown {
  const inputs = tensorsIn(args);
  if (!warnedNoGradInputs && !inputs.some((t) => t.requires_grad)) {
    warnedNoGradInputs = true;
    process.emitWarning("None of the inputs have requires_grad=True. Gradients will be None");
  }
  const state: Checkpointed = { run: (ts) => fn(...(withTensors(args, ts) as unknown[])), preserve_rng_state };
  const flat = CheckpointFunction.apply(state, ...inputs);
  const output = state.output;
  // The backward keeps `state`; it must not keep the forward's output tensors alive as well.
  delete state.output;
  return withTensors(output, flat);
}

/** fn's arguments with CheckpointOptions merged into its trailing options object. */
type KwargsWithOptions<A extends unknown[]> = A extends [...infer Head, infer Last extends object]
  ? [...Head, Last & CheckpointOptions]
  : never;

/**
 * `checkpoint(fn, ...args, options?)`: fn(...args) without keeping its intermediate activations;
 * the backward recomputes them. Keys of a trailing options object other than CheckpointOptions' are
 * fn's own keyword arguments, passed on as its trailing options object (Python's `**kwargs`).
 */
export function checkpoint<A extends unknown[], R>(
  fn: (...args: A) => R,
  ...args: A | [...A, CheckpointOptions] | KwargsWithOptions<A>
): R {
  let fnArgs: unknown[] = args;
  let options: CheckpointOptions = {};
  const last = args.at(-1);
  if (isKwargs(last)) {
    const {
      use_reentrant,
      preserve_rng_state,
      context_fn,
      debug,
      determinism_check: _d,
      early_stop: _e,
      ...kwargs
    } = last as CheckpointOptions & NonReentrantOptions;
    if (context_fn !== undefined || (debug !== undefined && debug !== false)) {
      throw new ValueError("Passing `context_fn` or `debug` is only supported when use_reentrant=False.");
    }
    options = { use_reentrant, preserve_rng_state } as CheckpointOptions;
    fnArgs = args.slice(0, -1);
    if (Object.keys(kwargs).length > 0) fnArgs.push(kwargs);
  }
  return run(fn as (...a: unknown[]) => unknown, fnArgs, preserveRngState(options)) as R;
}

/**
 * Makes `module.forward` run through checkpoint() while the module is training and grad is
 * enabled (what HF's gradient checkpointing and a "recompute" plan do to a layer); remove() undoes it.
 */
export function _checkpoint_module(module: Module, options: CheckpointOptions = {}): RemovableHandle {
  const preserve_rng_state = preserveRngState(options);
  const own = Object.getOwnPropertyDescriptor(module, "forward");
  // The hook-running entry, so hooks run inside the checkpoint, as with Python's module.__call__.
  const call = module.forward;
  let active = true;
  const wrapped = (...args: unknown[]): unknown =>
    active && module.training && is_grad_enabled() ? run(call, args, preserve_rng_state) : call(...args);
  const get = (): typeof wrapped => wrapped;
  // Assigning module.forward still replaces the implementation underneath.
  Object.defineProperty(module, "forward", { configurable: true, enumerable: false, get, set: own?.set });
  return {
    remove: () => {
      active = false;
      // When something wrapped forward after this, the now inactive wrapper stays and passes through.
      if (own !== undefined && Object.getOwnPropertyDescriptor(module, "forward")?.get === get) {
        Object.defineProperty(module, "forward", own);
      }
    },
  };
}
