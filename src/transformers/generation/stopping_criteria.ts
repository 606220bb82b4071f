// Stopping criteria as HF's: each returns a bool tensor [batch], true where that sequence is done.
import * as torch from "../../torch/index.js";
import type { Tensor } from "../../torch/tensor.js";

export interface StoppingCriteria {
  call(input_ids: Tensor): Tensor;
}

/** Done once the sequences (prompt included) reach `max_length` tokens. */
export class MaxLengthCriteria implements StoppingCriteria {
  constructor(readonly max_length: number) {}

  call(input_ids: Tensor): Tensor {
    return torch.full([input_ids.shape[0]], input_ids.shape[input_ids.dim() - 1] >= this.max_length, {
      dtype: torch.bool,
      device: input_ids.device,
    });
  }
}

/** Done where the last token is one of the eos ids. */
export class EosTokenCriteria implements StoppingCriteria {
  readonly eos_token_id: number[];
  private readonly eos: Tensor;

  constructor(eos_token_id: number | number[]) {
    this.eos_token_id = Array.isArray(eos_token_id) ? [...eos_token_id] : [eos_token_id];
    this.eos = torch.tensor(this.eos_token_id, { dtype: torch.int64 });
  }

  call(input_ids: Tensor): Tensor {
    return torch.isin(input_ids.index([":", -1]), this.eos.to(input_ids.device));
  }
}

/** Done where any criterion says so. */
export class StoppingCriteriaList extends Array<StoppingCriteria> implements StoppingCriteria {
  call(input_ids: Tensor): Tensor {
    let done = torch.zeros([input_ids.shape[0]], { dtype: torch.bool, device: input_ids.device });
    for (const c of this) done = done.logical_or(c.call(input_ids));
    return done;
  }

  get max_length(): number | null {
    for (const c of this) if (c instanceof MaxLengthCriteria) return c.max_length;
    return null;
  }
}
