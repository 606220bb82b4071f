// torch.Generator: an explicit random-number stream, and the global seed functions.
import { native, type NativeHandle } from "./_native.js";
import type { DeviceLike } from "./device.js";
import type { Tensor } from "./tensor.js";

export class Generator {
  readonly _h: NativeHandle;

  constructor(device: DeviceLike = "cpu") {
    this._h = native.newGenerator(String(device));
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
