// LoraLinear: PEFT's lora.Linear around an nn.Linear (or GPT-2's Conv1D, whose weight is [in, out]):
// y = base_layer(x) + lora_B(lora_A(dropout(x))) · scaling. Adapters live in ModuleDicts keyed by
// adapter name, so state-dict names are PEFT's (`q_proj.base_layer.weight`, `q_proj.lora_A.default.weight`).
import * as torch from "../../torch/index.js";
import type { Tensor } from "../../torch/tensor.js";
import { Dropout, Linear, Module, ModuleDict } from "../../torch/nn/index.js";
import { Conv1D } from "../models/gpt2/modeling_gpt2.js";

/** nn.Identity, for lora_dropout = 0 as PEFT uses it. */
class Identity extends Module {
  override forward(input: Tensor): Tensor {
    return input;
  }
}

export type LoraTarget = Linear | Conv1D;

export interface LoraLayerOptions {
  r: number;
  lora_alpha: number;
  lora_dropout: number;
  scaling: number;
  fan_in_fan_out: boolean;
  init_lora_weights: boolean;
}

export class LoraLinear extends Module {
  base_layer: LoraTarget;
  lora_dropout: ModuleDict<Module>;
  lora_A: ModuleDict<Linear>;
  lora_B: ModuleDict<Linear>;
  readonly in_features: number;
  readonly out_features: number;
  readonly r: Record<string, number> = {};
  readonly lora_alpha: Record<string, number> = {};
  readonly scaling: Record<string, number> = {};
  readonly fan_in_fan_out: boolean;
  active_adapter = "default";
  merged = false;

  constructor(base_layer: LoraTarget, adapter_name: string, o: LoraLayerOptions) {
    super();
    this.base_layer = base_layer;
    this.lora_dropout = new ModuleDict();
    this.lora_A = new ModuleDict();
    this.lora_B = new ModuleDict();
    const w = base_layer.weight;
    // Conv1D keeps its weight as [in, out]: PEFT switches fan_in_fan_out on for it (and off for Linear).
    this.fan_in_fan_out = base_layer instanceof Conv1D;
    [this.in_features, this.out_features] = this.fan_in_fan_out ? [w.shape[0], w.shape[1]] : [w.shape[1], w.shape[0]];
    this.update_layer(adapter_name, o);
  }

  /** Adds adapter `name`: lora_A kaiming_uniform_(a=√5), lora_B zeros (PEFT's init_lora_weights=True). */
  update_layer(name: string, o: LoraLayerOptions): void {
    const w = this.base_layer.weight;
    // As PEFT's autocast_adapter_dtype: half-precision bases get float32 adapters.
    const dt = w.dtype === torch.float16 || w.dtype === torch.bfloat16 ? torch.float32 : w.dtype;
    const factory = { device: w.device, dtype: dt };
    this.r[name] = o.r;
    this.lora_alpha[name] = o.lora_alpha;
    this.scaling[name] = o.scaling;
    this.lora_dropout.set(name, o.lora_dropout > 0 ? new Dropout(o.lora_dropout) : new Identity());
    this.lora_A.set(name, new Linear(this.in_features, o.r, { bias: false, ...factory }));
    this.lora_B.set(name, new Linear(o.r, this.out_features, { bias: false, ...factory }));
    if (o.init_lora_weights) {
      torch.nn.init.kaiming_uniform_(this.lora_A.get(name).weight, { a: Math.sqrt(5) });
      torch.nn.init.zeros_(this.lora_B.get(name).weight);
    }
  }

  override forward(x: Tensor): Tensor {
    let result = this.base_layer.forward(x);
    if (this.merged) return result;
    const name = this.active_adapter;
    const A = this.lora_A.get(name);
    const resultDtype = result.dtype;
    const xa = x.to(A.weight.dtype);
    result = result.add(
      this.lora_B
        .get(name)
        .forward(A.forward(this.lora_dropout.get(name).forward(xa) as Tensor))
        .mul(this.scaling[name]),
    );
    return result.to(resultDtype);
  }

  /** B·A·scaling in the base weight's layout (transposed for fan_in_fan_out). */
  get_delta_weight(name = this.active_adapter): Tensor {
    const delta = this.lora_B.get(name).weight.matmul(this.lora_A.get(name).weight).mul(this.scaling[name]);
    return this.fan_in_fan_out ? delta.t() : delta;
  }

  /** W += B·A·scaling (PEFT's merge); the forward then skips the adapter. */
  merge(): void {
    if (this.merged) return;
    torch.no_grad(() => {
      const w = this.base_layer.weight;
      w.add_(this.get_delta_weight().to(w.dtype));
    });
    this.merged = true;
  }

  override extra_repr(): string {
    return `r=${this.r[this.active_adapter]}, lora_alpha=${this.lora_alpha[this.active_adapter]}`;
  }
}
