// torch.Generator: an explicit random-number stream, and the global seed functions.
import { native, type NativeHandle } from "./_native.js";
import type { DeviceLike } from "./device.js";
import type { Tensor } from "./tensor.js";

export class Generator {
  readonly _h: NativeHandle;

  constructor(device: DeviceLike = "cpu") {
    this._h = native.newGenerator(String(device));
  }

  /** @internal A Generator object over an existing native generator (a device's default one). */
  static _wrap(handle: NativeHandle): Generator {
    const g = Object.create(Generator.prototype) as { _h: NativeHandle };
    g._h = handle;
    return g as Generator;
  }

  manual_seed(seed: number | bigint): this {
    native.generatorManualSeed(this._h, seed);
    return this;
  }

  initial_seed(): number {
    return native.generatorInitialSeed(this._h);
  }

  get_state(): Tensor {
    return native.generatorGetState(this._h) as Tensor;
  }

  set_state(state: Tensor): this {
    native.generatorSetState(this._h, state._h);
    return this;
  }
}

/** Seeds the default generators of the CPU and every CUDA device, as torch.manual_seed. */
export function manual_seed(seed: number | bigint): void {
  native.manualSeed(seed);
}

export function initial_seed(): number {
  return native.initialSeed();
}

/** The CPU's default generator (torch.default_generator): what random ops use without a `generator`. */
export const default_generator: Generator = Generator._wrap(native.defaultGenerator());

/** The default CPU generator's state as a uint8 tensor (torch.get_rng_state). */
export function get_rng_state(): Tensor {
  return default_generator.get_state();
}

/** Restores the default CPU generator from a get_rng_state() tensor (torch.set_rng_state). */
export function set_rng_state(new_state: Tensor): void {
  default_generator.set_state(new_state);
}
