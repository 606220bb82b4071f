// torch.optim.Optimizer: parameter groups with per-group options, per-parameter state, and
// state_dict/load_state_dict in PyTorch's layout ({state: {index: {...}}, param_groups: [{..., params:
// [indices]}]}), so checkpoints carry over key for key.
import { Tensor } from "../tensor.js";
import { native } from "../_native.js";
import { escape, scope } from "../memory.js";
import { enable_grad, no_grad } from "../autograd/grad_mode.js";
import { _optimizer_created } from "../moreh.js";
import { RuntimeError, ValueError } from "../errors.js";
import { checkOptions, refuseUnsupported } from "../_options.js";
import { progress } from "../distributed/heartbeat.js";

/** The options every optimizer's groups have; each optimizer adds its own. */
export interface BaseOptions {
  lr: number;
}

export type ParamGroup<O extends BaseOptions> = O & { params: Tensor[]; initial_lr?: number };
export type ParamGroupInput<O extends BaseOptions> = Partial<O> & { params: Iterable<Tensor> };
export type Params<O extends BaseOptions> = Iterable<Tensor> | Iterable<ParamGroupInput<O>>;

export type StateValue = Tensor | number | boolean | null;
export type ParamState = Record<string, StateValue>;

export interface OptimizerStateDict {
  state: Record<number, ParamState>;
  param_groups: Record<string, unknown>[];
}

export abstract class Optimizer<O extends BaseOptions = BaseOptions> {
  readonly defaults: O;
  readonly param_groups: ParamGroup<O>[] = [];
  /** Per-parameter state, keyed by the parameter tensor (PyTorch's `optimizer.state[p]`). */
  readonly state = new Map<Tensor, ParamState>();

  constructor(params: Params<O>, defaults: O) {
    this.defaults = defaults;
    if (params instanceof Tensor) {
      throw new TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, but got a Tensor");
    }
    const list = [...(params as Iterable<Tensor | ParamGroupInput<O>>)];
    if (list.length === 0) throw new ValueError("optimizer got an empty parameter list");
    const groups =
      list[0] instanceof Tensor ? [{ params: list as Tensor[] } as unknown as ParamGroupInput<O>] : (list as ParamGroupInput<O>[]);
    for (const g of groups) this.add_param_group(g);
    _optimizer_created(this.param_groups.flatMap((g) => g.params));
  }

  add_param_group(group: ParamGroupInput<O>): void {
    if (group === null || typeof group !== "object" || !("params" in group))
      throw new TypeError("param_group must be a dict with a 'params' entry");
    if (group.params instanceof Tensor)
      throw new TypeError(
        "optimizer parameters need to be organized in ordered collections, but the ordering of tensors in sets will change between runs. Please use a list instead.",
      );
    const params = [...group.params];
    for (const p of params) {
      if (!(p instanceof Tensor)) throw new TypeError(`optimizer can only optimize Tensors, but one of the params is ${typeof p}`);
      if (!p.is_leaf) throw new ValueError("can't optimize a non-leaf Tensor");
    }
    const full = { ...this.defaults, ...group, params } as ParamGroup<O>;
    const seen = new Set<Tensor>();
    for (const g of this.param_groups) for (const p of g.params) seen.add(p);
    if (params.some((p) => seen.has(p))) throw new ValueError("some parameters appear in more than one parameter group");
    this.param_groups.push(full);
  }

  /** Sets (by default) or zeroes every parameter's gradient. */
  zero_grad(opts: { set_to_none?: boolean } = {}): void {
    checkOptions("Optimizer.zero_grad", opts, { set_to_none: true });
    const { set_to_none = true } = opts;
    native.zeroGrads(
      this.param_groups.flatMap((g) => g.params),
      set_to_none,
    );
  }

  /** One update of every parameter with a gradient; `closure` re-evaluates the loss first. */
  step(closure?: () => Tensor | number): Tensor | number | undefined {
    const loss = closure === undefined ? undefined : enable_grad(closure);
    // In a scope: the step's gradient wrappers and temporaries go at once (a gradient stays alive
    // while any wrapper holds it, even after zero_grad); what the optimizer keeps is escaped.
    no_grad(() =>
      scope(() => {
        for (const g of this.param_groups) this._stepGroup(g);
        escape(this);
      }),
    );
    progress();
    return loss;
  }

  protected abstract _stepGroup(group: ParamGroup<O>): void;

  /** The parameters of `group` that have a gradient, with their state (created on first use). */
  protected _withGrads(group: ParamGroup<O>, init: (p: Tensor) => ParamState): { params: Tensor[]; grads: Tensor[]; states: ParamState[] } {
    const params: Tensor[] = [];
    const grads: Tensor[] = [];
    const states: ParamState[] = [];
    for (const p of group.params) {
      const g = p.grad;
      if (g === null) continue;
      let s = this.state.get(p);
      if (s === undefined) {
        s = init(p);
        this.state.set(p, s);
      }
      params.push(p);
      grads.push(g);
      states.push(s);
    }
    return { params, grads, states };
  }

  state_dict(): OptimizerStateDict {
    const index = new Map<Tensor, number>();
    const param_groups = this.param_groups.map((g) => {
      const { params, ...rest } = g;
      for (const p of params) if (!index.has(p)) index.set(p, index.size);
      return { ...rest, params: params.map((p) => index.get(p) as number) };
    });
    const state: Record<number, ParamState> = {};
    for (const [p, s] of this.state) {
      const i = index.get(p);
      if (i !== undefined) state[i] = { ...s };
    }
    return { state, param_groups };
  }

  load_state_dict(state_dict: OptimizerStateDict): void {
    const saved = state_dict.param_groups;
    if (saved.length !== this.param_groups.length) throw new ValueError("loaded state dict has a different number of parameter groups");
    const byIndex = new Map<number, Tensor>();
    saved.forEach((sg, gi) => {
      const ids = sg.params as number[];
      const own = this.param_groups[gi].params;
      if (ids.length !== own.length)
        throw new ValueError("loaded state dict contains a parameter group that doesn't match the size of optimizer's group");
      ids.forEach((id, k) => byIndex.set(id, own[k]));
    });
    this.state.clear();
    for (const [key, s] of Object.entries(state_dict.state)) {
      const p = byIndex.get(Number(key));
      if (p === undefined) continue;
      const cast: ParamState = {};
      for (const [k, v] of Object.entries(s)) cast[k] = this._castStateValue(p, k, v);
      this.state.set(p, cast);
    }
    saved.forEach((sg, gi) => {
      const own = this.param_groups[gi];
      const { params: _ids, ...hyper } = sg;
      this.param_groups[gi] = { ...(hyper as unknown as O), params: own.params } as ParamGroup<O>;
    });
  }

  /** Moves a loaded state value next to its parameter, as PyTorch's `_process_value_according_to_param_policy`. */
  protected _castStateValue(p: Tensor, key: string, v: StateValue): StateValue {
    if (!(v instanceof Tensor)) return v;
    if (key === "step") return v;
    return p.dtype.is_floating_point ? v.to({ dtype: p.dtype, device: p.device }) : v.to(p.device);
  }
}

/** Groups parallel tensor lists by the first list's (device, dtype), keeping order inside groups. */
export function groupByDeviceAndDtype(lists: Tensor[][]): Tensor[][][] {
  const groups = new Map<string, Tensor[][]>();
  lists[0].forEach((t, i) => {
    const k = `${t.device}|${t.dtype.name}`;
    let g = groups.get(k);
    if (g === undefined) {
      g = lists.map(() => []);
      groups.set(k, g);
    }
    lists.forEach((l, j) => g[j].push(l[i]));
  });
  return [...groups.values()];
}

export function checkNonNegative(value: number, what: string): void {
  if (!(value >= 0)) throw new ValueError(`Invalid ${what}: ${value}`);
}

/** The implementation options PyTorch's optimizers share, as far as tessera's fused kernels honour them. */
export interface ImplementationOptions {
  foreach: boolean | null;
  differentiable: boolean;
  fused: boolean | null;
}

/**
 * Tessera's optimizers always run libtorch's fused kernel: `fused` true or unset is what they do,
 * `foreach` false or unset is compatible with it; anything else would ask for another implementation.
 */
export function checkImplementation(owner: string, o: ImplementationOptions): void {
  if (o.fused === true && o.foreach === true) throw new RuntimeError("`fused` and `foreach` cannot be `True` together.");
  if (o.fused === true && o.differentiable) throw new RuntimeError("`fused` does not support `differentiable`");
  const why = "tessera runs the fused kernel";
  refuseUnsupported(owner, "fused", o.fused, o.fused !== false, why);
  refuseUnsupported(owner, "foreach", o.foreach, o.foreach !== true, why);
  refuseUnsupported(owner, "differentiable", o.differentiable, !o.differentiable);
}
