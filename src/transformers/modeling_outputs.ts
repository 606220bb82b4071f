// Model outputs as HF's ModelOutput dataclasses: named fields, and `out[i]` for the i-th field that
// is not null (so `out[0]` is the loss when labels were given, else the logits).
import type { Tensor } from "../torch/tensor.js";
import type { DynamicCache } from "./cache_utils.js";

export abstract class ModelOutput {
  [index: number]: unknown;

  /** The non-null fields in declaration order, as HF's `to_tuple()`. */
  to_tuple(): unknown[] {
    return Object.values(this).filter((v) => v !== null && v !== undefined);
  }

  protected index(): void {
    this.to_tuple().forEach((v, i) => Object.defineProperty(this, i, { value: v, enumerable: false }));
  }
}

export class BaseModelOutputWithPast extends ModelOutput {
  /** last_hidden_state. */
  declare readonly 0: Tensor;

  constructor(
    readonly last_hidden_state: Tensor,
    readonly past_key_values: DynamicCache | null = null,
  ) {
    super();
    this.index();
  }
}

export class CausalLMOutputWithPast extends ModelOutput {
  /** The loss when labels were given, else the logits. */
  declare readonly 0: Tensor;

  constructor(
    readonly loss: Tensor | null,
    readonly logits: Tensor,
    readonly past_key_values: DynamicCache | null = null,
  ) {
    super();
    this.index();
  }
}
