// torch.optim.lr_scheduler, with PyTorch's recursive ("chainable") formulas and its closed forms
// where SequentialLR jumps to a milestone. Python subclasses set their fields before calling
// LRScheduler.__init__ (which takes the first step); TypeScript cannot, so each subclass constructor
// ends with `this._initial_step()`.
import { assignOwnFields } from "../serialization/json.js";
import type { Optimizer, BaseOptions } from "./optimizer.js";
import { ValueError } from "../errors.js";
import { checkOptions } from "../_options.js";

export type SchedulerState = Record<string, unknown>;

export abstract class LRScheduler {
  readonly optimizer: Optimizer<BaseOptions>;
  base_lrs: number[];
  last_epoch: number;
  _step_count = 0;
  _last_lr: number[] = [];
  _is_initial = false;

  constructor(optimizer: Optimizer<BaseOptions>, last_epoch = -1) {
    this.optimizer = optimizer;
    optimizer.param_groups.forEach((g, i) => {
      if (last_epoch === -1) g.initial_lr ??= g.lr;
      else if (g.initial_lr === undefined)
        throw new Error(`param 'initial_lr' is not specified in param_groups[${i}] when resuming scheduler with last_epoch >= 0.`);
    });
    this.base_lrs = optimizer.param_groups.map((g) => g.initial_lr as number);
    this.last_epoch = last_epoch;
  }

  _initial_step(): void {
    this._step_count = 0;
    this._is_initial = true;
    try {
      this.step();
    } finally {
      this._is_initial = false;
    }
  }

  /** The learning rates for `last_epoch`, from the groups' current ones. */
  abstract get_lr(): number[];

  /** The learning rates for `last_epoch` from `base_lrs` alone, where a formula exists. */
  protected _get_closed_form_lr(): number[] | null {
    return null;
  }

  step(): void {
    this._step_count += 1;
    this._update_lr();
  }

  _update_lr(epoch?: number): void {
    let values: number[];
    if (epoch === undefined) {
      this.last_epoch += 1;
      values = this.get_lr();
    } else {
      this.last_epoch = epoch;
      values = this._get_closed_form_lr() ?? this.get_lr();
    }
    this.optimizer.param_groups.forEach((g, i) => (g.lr = values[i]));
    this._last_lr = this.optimizer.param_groups.map((g) => g.lr);
  }

  get_last_lr(): number[] {
    return this._last_lr;
  }

  /** Every own field but the optimizer (and functions), as PyTorch's `__dict__` copy. */
  state_dict(): SchedulerState {
    const out: SchedulerState = {};
    for (const [k, v] of Object.entries(this)) {
      if (k === "optimizer" || typeof v === "function") continue;
      out[k] = Array.isArray(v) ? v.map((x: unknown) => (typeof x === "function" ? null : x)) : v;
    }
    return out;
  }

  load_state_dict(state: SchedulerState): void {
    assignOwnFields(this, state, `${this.constructor.name}.load_state_dict`);
  }

  protected _lrs(): number[] {
    return this.optimizer.param_groups.map((g) => g.lr);
  }
}

export type LrLambda = (epoch: number) => number;

/** lr = base_lr * lr_lambda(epoch). */
export class LambdaLR extends LRScheduler {
  readonly lr_lambdas: LrLambda[];

  constructor(optimizer: Optimizer<BaseOptions>, lr_lambda: LrLambda | LrLambda[], last_epoch = -1) {
    super(optimizer, last_epoch);
    const n = optimizer.param_groups.length;
    if (Array.isArray(lr_lambda)) {
      if (lr_lambda.length !== n) throw new ValueError(`Expected ${n} lr_lambdas, but got ${lr_lambda.length}`);
      this.lr_lambdas = [...lr_lambda];
    } else {
      this.lr_lambdas = Array.from({ length: n }, () => lr_lambda);
    }
    this._initial_step();
  }

  get_lr(): number[] {
    return this.base_lrs.map((b, i) => b * this.lr_lambdas[i](this.last_epoch));
  }

  /** Functions are not state: the saved `lr_lambdas` entries are null and are not loaded back. */
  override load_state_dict(state: SchedulerState): void {
    const { lr_lambdas: _functions, ...rest } = state;
    super.load_state_dict(rest);
  }
}

/** Multiplies the lr by gamma every step_size epochs. */
export class StepLR extends LRScheduler {
  constructor(
    optimizer: Optimizer<BaseOptions>,
    readonly step_size: number,
    readonly gamma = 0.1,
    last_epoch = -1,
  ) {
    super(optimizer, last_epoch);
    this._initial_step();
  }

  get_lr(): number[] {
    if (this.last_epoch === 0 || this.last_epoch % this.step_size !== 0) return this._lrs();
    return this._lrs().map((lr) => lr * this.gamma);
  }

  protected override _get_closed_form_lr(): number[] {
    return this.base_lrs.map((b) => b * this.gamma ** Math.floor(this.last_epoch / this.step_size));
  }
}

export interface LinearLROptions {
  start_factor?: number;
  end_factor?: number;
  total_iters?: number;
  last_epoch?: number;
}

/** Scales the lr linearly from start_factor to end_factor over total_iters epochs. */
export class LinearLR extends LRScheduler {
  readonly start_factor: number;
  readonly end_factor: number;
  readonly total_iters: number;

  constructor(optimizer: Optimizer<BaseOptions>, opts: LinearLROptions = {}) {
    checkOptions("LinearLR.__init__", opts, { start_factor: true, end_factor: true, total_iters: true, last_epoch: true });
    const { start_factor = 1.0 / 3, end_factor = 1.0, total_iters = 5, last_epoch = -1 } = opts;
    if (start_factor > 1.0 || start_factor <= 0)
      throw new ValueError("Starting multiplicative factor expected to be greater than 0 and less or equal to 1.");
    if (end_factor > 1.0 || end_factor < 0) throw new ValueError("Ending multiplicative factor expected to be between 0 and 1.");
    super(optimizer, last_epoch);
    this.start_factor = start_factor;
    this.end_factor = end_factor;
    this.total_iters = total_iters;
    this._initial_step();
  }

  get_lr(): number[] {
    if (this.last_epoch === 0) return this._lrs().map((lr) => lr * this.start_factor);
    if (this._is_initial || this.last_epoch > this.total_iters) return this._lrs();
    const d = this.end_factor - this.start_factor;
    return this._lrs().map((lr) => lr * (1.0 + d / (this.total_iters * this.start_factor + (this.last_epoch - 1) * d)));
  }

  protected override _get_closed_form_lr(): number[] {
    const d = this.end_factor - this.start_factor;
    return this.base_lrs.map((b) => b * (this.start_factor + (d * Math.min(this.total_iters, this.last_epoch)) / this.total_iters));
  }
}

/** Cosine annealing from the base lr down to eta_min over T_max epochs. */
export class CosineAnnealingLR extends LRScheduler {
  constructor(
    optimizer: Optimizer<BaseOptions>,
    readonly T_max: number,
    readonly eta_min = 0.0,
    last_epoch = -1,
  ) {
    super(optimizer, last_epoch);
    this._initial_step();
  }

  get_lr(): number[] {
    const { T_max, eta_min, last_epoch } = this;
    if (this._is_initial) return this._lrs();
    if (this._step_count === 1 && last_epoch > 0) {
      return this.base_lrs.map((b) => eta_min + ((b - eta_min) * (1 + Math.cos((last_epoch * Math.PI) / T_max))) / 2);
    }
    if ((last_epoch - 1 - T_max) % (2 * T_max) === 0) {
      return this._lrs().map((lr, i) => lr + ((this.base_lrs[i] - eta_min) * (1 - Math.cos(Math.PI / T_max))) / 2);
    }
    return this._lrs().map(
      (lr) =>
        ((1 + Math.cos((Math.PI * last_epoch) / T_max)) / (1 + Math.cos((Math.PI * (last_epoch - 1)) / T_max))) * (lr - eta_min) + eta_min,
    );
  }

  protected override _get_closed_form_lr(): number[] {
    return this.base_lrs.map((b) => this.eta_min + ((b - this.eta_min) * (1 + Math.cos((Math.PI * this.last_epoch) / this.T_max))) / 2);
  }
}

function bisectRight(a: number[], x: number): number {
  let i = 0;
  while (i < a.length && a[i] <= x) i++;
  return i;
}

/** Runs `schedulers` one after another, switching at each milestone. */
export class SequentialLR extends LRScheduler {
  readonly _schedulers: LRScheduler[];
  readonly _milestones: number[];

  constructor(optimizer: Optimizer<BaseOptions>, schedulers: LRScheduler[], milestones: number[], last_epoch = -1) {
    if (schedulers.length < 1) throw new ValueError("SequentialLR expects at least one scheduler, but got no scheduler.");
    schedulers.forEach((s, i) => {
      if (s.optimizer !== optimizer) {
        throw new ValueError(
          `SequentialLR expects all schedulers to belong to the same optimizer, but got scheduler ${s.constructor.name} at index ${i} with a different optimizer.`,
        );
      }
    });
    if (milestones.length !== schedulers.length - 1) {
      throw new ValueError(
        `Sequential Schedulers expects number of schedulers provided to be one more than the number of milestone points, but got number of schedulers ${schedulers.length} and the number of milestones to be equal to ${milestones.length}`,
      );
    }
    super(optimizer, last_epoch);
    this._schedulers = schedulers;
    this._milestones = milestones;
    this.last_epoch = last_epoch + 1;
    for (const g of optimizer.param_groups) g.lr = g.initial_lr as number;
    for (const s of schedulers) SequentialLR._undo(s);
    const idx = bisectRight(milestones, 0);
    schedulers[idx]._initial_step();
    this._last_lr = schedulers[idx].get_last_lr();
  }

  private static _undo(s: LRScheduler): void {
    if (s instanceof SequentialLR) for (const c of s._schedulers) SequentialLR._undo(c);
    else s.last_epoch -= 1;
  }

  get_lr(): number[] {
    return this._last_lr;
  }

  override step(): void {
    this.last_epoch += 1;
    const idx = bisectRight(this._milestones, this.last_epoch);
    const s = this._schedulers[idx];
    if (idx > 0 && this._milestones[idx - 1] === this.last_epoch) s._update_lr(0);
    else s.step();
    this._last_lr = s.get_last_lr();
  }

  override state_dict(): SchedulerState {
    const out = super.state_dict();
    out._schedulers = this._schedulers.map((s) => s.state_dict());
    return out;
  }

  override load_state_dict(state: SchedulerState): void {
    const { _schedulers, ...rest } = state;
    assignOwnFields(this, rest, "SequentialLR.load_state_dict");
    (_schedulers as SchedulerState[]).forEach((s, i) => this._schedulers[i].load_state_dict(s));
  }
}
