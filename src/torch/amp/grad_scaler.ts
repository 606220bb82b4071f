// torch.amp.GradScaler: dynamic loss scaling, as torch/amp/grad_scaler.py — unscale and inf-check
// with aten::_amp_foreach_non_finite_check_and_unscale_, skip the step when any gradient overflowed,
// and grow/back off the scale with aten::_amp_update_scale_.
import { Tensor } from "../tensor.js";
import type { Optimizer, BaseOptions } from "../optim/optimizer.js";
import { groupByDeviceAndDtype } from "../optim/optimizer.js";
import { no_grad } from "../autograd/grad_mode.js";
import { _amp_foreach_non_finite_check_and_unscale_, _amp_update_scale_, full } from "../_generated/functions.js";
import { float16, float32, float64, int32 } from "../dtype.js";
import { RuntimeError, ValueError } from "../errors.js";
import { checkOptions } from "../_options.js";

export interface GradScalerOptions {
  device?: string;
  init_scale?: number;
  growth_factor?: number;
  backoff_factor?: number;
  growth_interval?: number;
  enabled?: boolean;
}

export interface GradScalerState {
  scale: number;
  growth_factor: number;
  backoff_factor: number;
  growth_interval: number;
  _growth_tracker: number;
}

type Stage = "ready" | "unscaled" | "stepped";

interface PerOptimizer {
  stage: Stage;
  found_inf_per_device: Map<string, Tensor>;
}

export class GradScaler {
  readonly _device: string;
  _init_scale: number;
  _growth_factor: number;
  _backoff_factor: number;
  _growth_interval: number;
  _enabled: boolean;
  private _init_growth_tracker = 0;
  private _scale: Tensor | null = null;
  private _growth_tracker: Tensor | null = null;
  private _per_optimizer = new Map<Optimizer<BaseOptions>, PerOptimizer>();

  /** `new GradScaler("cuda")`, `new GradScaler("cpu", { init_scale })` or `new GradScaler({ device, ... })`. */
  constructor(device: string | GradScalerOptions = "cuda", opts: GradScalerOptions = {}) {
    const o = typeof device === "string" ? { ...opts, device } : device;
    checkOptions("GradScaler.__init__", typeof device === "string" ? opts : device, {
      device: true,
      init_scale: true,
      growth_factor: true,
      backoff_factor: true,
      growth_interval: true,
      enabled: true,
    });
    this._device = o.device ?? "cuda";
    this._init_scale = o.init_scale ?? 2.0 ** 16;
    this._growth_factor = o.growth_factor ?? 2.0;
    this._backoff_factor = o.backoff_factor ?? 0.5;
    this._growth_interval = o.growth_interval ?? 2000;
    this._enabled = o.enabled ?? true;
    if (this._growth_factor <= 1.0) throw new Error("The growth factor must be > 1.0.");
    if (this._backoff_factor >= 1.0) throw new Error("The backoff factor must be < 1.0.");
  }

  is_enabled(): boolean {
    return this._enabled;
  }

  private _state(optimizer: Optimizer<BaseOptions>): PerOptimizer {
    let s = this._per_optimizer.get(optimizer);
    if (s === undefined) {
      s = { stage: "ready", found_inf_per_device: new Map() };
      this._per_optimizer.set(optimizer, s);
    }
    return s;
  }

  private _checkInit(funcname: string): [Tensor, Tensor] {
    if (this._scale === null || this._growth_tracker === null) {
      throw new Error(
        `Attempted ${funcname} but _scale is None.  This may indicate your script did not use scaler.scale(loss or outputs) earlier in the iteration.`,
      );
    }
    return [this._scale, this._growth_tracker];
  }

  /** Multiplies `outputs` (a tensor or an array of tensors) by the scale factor. */
  scale<T extends Tensor | Tensor[]>(outputs: T): T {
    if (!this._enabled) return outputs;
    const one = (t: Tensor): Tensor => {
      if (this._scale === null) {
        this._scale = full([], this._init_scale, { dtype: float32, device: t.device });
        this._growth_tracker = full([], this._init_growth_tracker, { dtype: int32, device: t.device });
      }
      return t.mul(this._scale.to(t.device));
    };
    return (Array.isArray(outputs) ? outputs.map(one) : one(outputs)) as T;
  }

  /** Divides the optimizer's gradients by the scale in place, recording whether any is inf/NaN. */
  unscale_(optimizer: Optimizer<BaseOptions>): void {
    if (!this._enabled) return;
    const [scale] = this._checkInit("unscale_");
    const st = this._state(optimizer);
    if (st.stage === "unscaled") throw new RuntimeError("unscale_() has already been called on this optimizer since the last update().");
    if (st.stage === "stepped") throw new RuntimeError("unscale_() is being called after step().");
    const invScale = scale.to(float64).reciprocal().to(float32);
    const foundInf = full([], 0.0, { dtype: float32, device: scale.device });
    const grads: Tensor[] = [];
    for (const g of optimizer.param_groups) {
      for (const p of g.params) {
        const grad = p.grad;
        if (grad === null) continue;
        if (grad.dtype === float16) throw new ValueError("Attempting to unscale FP16 gradients.");
        grads.push(grad);
      }
    }
    no_grad(() => {
      for (const [group] of groupByDeviceAndDtype([grads])) {
        const dev = String(group[0].device);
        let inf = st.found_inf_per_device.get(dev);
        if (inf === undefined) {
          inf = foundInf.to(dev, { copy: true });
          st.found_inf_per_device.set(dev, inf);
        }
        _amp_foreach_non_finite_check_and_unscale_(group, inf, invScale.to(dev));
      }
    });
    st.stage = "unscaled";
  }

  /** Unscales (unless already done) and runs optimizer.step() unless a gradient was inf/NaN. */
  step(optimizer: Optimizer<BaseOptions>): void {
    if (!this._enabled) {
      optimizer.step();
      return;
    }
    this._checkInit("step");
    const st = this._state(optimizer);
    if (st.stage === "stepped") throw new RuntimeError("step() has already been called since the last update().");
    if (st.stage === "ready") this.unscale_(optimizer);
    if (st.found_inf_per_device.size === 0) throw new Error("No inf checks were recorded for this optimizer.");
    let infs = 0;
    for (const t of st.found_inf_per_device.values()) infs += t.item();
    if (!infs) optimizer.step();
    st.stage = "stepped";
  }

  /** Backs the scale off after an overflow, or grows it after growth_interval clean steps. */
  update(new_scale?: number | Tensor): void {
    if (!this._enabled) return;
    const [scale, tracker] = this._checkInit("update");
    if (new_scale !== undefined) {
      if (typeof new_scale === "number") scale.fill_(new_scale);
      else if (new_scale.numel() !== 1 || new_scale.requires_grad) {
        throw new Error("new_scale should be a float or a 1-element torch.cuda.FloatTensor or torch.FloatTensor with requires_grad=False.");
      } else scale.copy_(new_scale);
    } else {
      const infs: Tensor[] = [];
      for (const st of this._per_optimizer.values()) for (const t of st.found_inf_per_device.values()) infs.push(t.to(scale.device));
      if (infs.length === 0) throw new Error("No inf checks were recorded prior to update.");
      let combined = infs[0];
      for (const t of infs.slice(1)) combined = combined.add(t);
      _amp_update_scale_(scale, tracker, combined, this._growth_factor, this._backoff_factor, this._growth_interval);
    }
    this._per_optimizer.clear();
  }

  get_scale(): number {
    if (!this._enabled) return 1.0;
    return this._scale === null ? this._init_scale : this._scale.item();
  }

  get_growth_factor(): number {
    return this._growth_factor;
  }

  get_backoff_factor(): number {
    return this._backoff_factor;
  }

  get_growth_interval(): number {
    return this._growth_interval;
  }

  private _get_growth_tracker(): number {
    return this._growth_tracker === null ? this._init_growth_tracker : this._growth_tracker.item();
  }

  state_dict(): GradScalerState | Record<string, never> {
    if (!this._enabled) return {};
    return {
      scale: this.get_scale(),
      growth_factor: this._growth_factor,
      backoff_factor: this._backoff_factor,
      growth_interval: this._growth_interval,
      _growth_tracker: this._get_growth_tracker(),
    };
  }

  load_state_dict(state: GradScalerState): void {
    if (!this._enabled) return;
    if (Object.keys(state).length === 0) {
      throw new RuntimeError("The source state dict is empty, possibly because it was saved from a disabled instance of GradScaler.");
    }
    this._init_scale = state.scale;
    this._scale?.fill_(state.scale);
    this._growth_factor = state.growth_factor;
    this._backoff_factor = state.backoff_factor;
    this._growth_interval = state.growth_interval;
    this._init_growth_tracker = state._growth_tracker;
    this._growth_tracker?.fill_(state._growth_tracker);
  }
}
