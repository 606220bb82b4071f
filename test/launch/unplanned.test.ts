// A tool's own models inside a planned job (the calibration's timed steps) stay outside the plan:
// with the one line on, a model built in torch.moreh._unplanned is never handed to the runtime, and
// an optimizer built there reduces nothing. A recording runtime stands in for the real one, which
// would otherwise broadcast and all-reduce parameters that differ from rank to rank.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as torch from "../../src/torch/index.js";
import { LlamaConfig, LlamaForCausalLM } from "../../src/transformers/index.js";

const applied: object[] = [];
const optimized: number[] = [];
torch.moreh._register_advanced_parallelization({
  enable: () => undefined,
  data_shard: () => null,
  apply: (model) => void applied.push(model),
  load_sharded: () => false,
  optimizer_created: (params) => void optimized.push(params.length),
  applied_plan: () => null,
});

const tiny = (): LlamaForCausalLM =>
  LlamaForCausalLM.from_config(
    new LlamaConfig({
      vocab_size: 16,
      hidden_size: 8,
      intermediate_size: 16,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      max_position_embeddings: 8,
    }),
  );

test("models and optimizers built in _unplanned are not planned; those built after it are", () => {
  torch.moreh.option.enable_advanced_parallelization();
  try {
    const own = torch.moreh._unplanned(() => {
      const model = tiny();
      new torch.optim.AdamW(model.parameters(), { lr: 1e-3 });
      return model;
    });
    own.forward(torch.tensor([[1, 2, 3]], { dtype: torch.long }));
    assert.deepEqual(applied, []);
    assert.deepEqual(optimized, []);

    const user = tiny();
    const params = [...user.parameters()];
    assert.deepEqual(applied, [user]);
    new torch.optim.AdamW(params, { lr: 1e-3 });
    assert.deepEqual(optimized, [params.length]);
  } finally {
    torch.moreh.option.disable_advanced_parallelization();
  }
});

test("_unplanned returns fn's value and leaves planning on after fn throws", () => {
  torch.moreh.option.enable_advanced_parallelization();
  try {
    assert.equal(
      torch.moreh._unplanned(() => 42),
      42,
    );
    assert.throws(
      () =>
        torch.moreh._unplanned(() => {
          throw new Error("inside");
        }),
      /inside/,
    );
    applied.length = 0;
    const model = tiny();
    [...model.parameters()];
    assert.deepEqual(applied, [model]);
  } finally {
    torch.moreh.option.disable_advanced_parallelization();
  }
});
