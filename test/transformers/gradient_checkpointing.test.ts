// gradient_checkpointing_enable on tiny Llama, GPT-2 and Baichuan models in training mode with
// dropout: the same loss and gradients as without it (dropout masks replayed, the KV cache kept out
// of the recomputation), layers re-run in the backward only while training, reversible by disable,
// and gradients reach trainable weights behind frozen embeddings.
import { test } from "node:test";
import assert from "node:assert/strict";
import { torch } from "../../src/index.js";
import type { Tensor } from "../../src/torch/tensor.js";
import type { Module } from "../../src/torch/nn/index.js";
import {
  BaichuanConfig,
  BaichuanForCausalLM,
  GPT2Config,
  GPT2LMHeadModel,
  LlamaConfig,
  LlamaForCausalLM,
  type CausalLM,
} from "../../src/transformers/index.js";
import { assertClose } from "../helpers/oracle.js";

const tiny = { hidden_size: 32, num_hidden_layers: 3, num_attention_heads: 4, vocab_size: 64, intermediate_size: 64 };
const ids = torch.randint(0, 64, [2, 7], { generator: new torch.Generator().manual_seed(9) });

function build(name: string): { model: CausalLM; layers: Module[] } {
  torch.manual_seed(0);
  if (name === "llama") {
    const model = LlamaForCausalLM.from_config(new LlamaConfig({ ...tiny, num_key_value_heads: 2, attention_dropout: 0.1 }));
    return { model, layers: [...model.model.layers] };
  }
  if (name === "gpt2") {
    const model = GPT2LMHeadModel.from_config(new GPT2Config({ n_embd: 32, n_layer: 3, n_head: 4, vocab_size: 64, n_positions: 16 }));
    return { model, layers: [...model.transformer.h] };
  }
  const model = BaichuanForCausalLM.from_config(new BaichuanConfig({ ...tiny, max_position_embeddings: 16 }));
  return { model, layers: [...model.model.layers] };
}

interface Step {
  loss: Tensor;
  grads: Map<string, Tensor>;
  /** Per layer: how often its forward ran during backward (the recomputations). */
  reruns: number[];
}

function step(model: CausalLM, layers: Module[]): Step {
  model.zero_grad();
  const calls = layers.map(() => 0);
  const hooks = layers.map((l, i) => l.register_forward_pre_hook(() => void calls[i]++));
  torch.manual_seed(42);
  const loss = model.forward(ids, { labels: ids }).loss!;
  const before = [...calls];
  loss.backward();
  for (const h of hooks) h.remove();
  const grads = new Map<string, Tensor>();
  for (const [k, p] of model.named_parameters()) if (p.grad !== null) grads.set(k, p.grad.clone());
  return { loss, grads, reruns: calls.map((c, i) => c - before[i]) };
}

function assertSameStep(actual: Step, expected: Step, msg: string): void {
  assertClose(actual.loss, expected.loss, { rtol: 1e-5, atol: 0, msg: `${msg} loss` });
  assert.deepEqual([...actual.grads.keys()], [...expected.grads.keys()], `${msg}: the same parameters got gradients`);
  for (const [k, g] of expected.grads) assertClose(actual.grads.get(k)!, g, { rtol: 1e-5, atol: 1e-7, msg: `${msg} grad ${k}` });
}

for (const name of ["llama", "gpt2", "baichuan"]) {
  test(`${name}: gradient checkpointing gives the loss and gradients of the plain step, only while training`, () => {
    const { model, layers } = build(name);
    model.train();
    const plain = step(model, layers);
    assert.deepEqual(plain.reruns, [0, 0, 0]);
    assert.equal(model.is_gradient_checkpointing, false);

    model.gradient_checkpointing_enable();
    assert.equal(model.is_gradient_checkpointing, true);
    const ck = step(model, layers);
    assert.deepEqual(ck.reruns, [1, 1, 1], "each layer is recomputed once in the backward");
    assertSameStep(ck, plain, name);

    model.gradient_checkpointing_enable({ every_n_layers: 2, gradient_checkpointing_kwargs: { use_reentrant: true } });
    const some = step(model, layers);
    assert.deepEqual(some.reruns, [1, 0, 1]);
    assertSameStep(some, plain, `${name} every_n_layers=2`);

    model.gradient_checkpointing_disable();
    assert.equal(model.is_gradient_checkpointing, false);
    const off = step(model, layers);
    assert.deepEqual(off.reruns, [0, 0, 0]);
    assertSameStep(off, plain, `${name} disabled`);

    // Last: Baichuan's NormHead normalises its weight in place on its first eval forward.
    model.gradient_checkpointing_enable();
    model.eval();
    assert.deepEqual(step(model, layers).reruns, [0, 0, 0], "eval: no checkpointing");
  });
}

test("llama: with frozen embeddings and base weights, gradients still reach the trainable ones", () => {
  const { model, layers } = build("llama");
  model.train();
  for (const [k, p] of model.named_parameters()) p.requires_grad_(k.includes("self_attn.q_proj") || k.includes("mlp.up_proj"));
  const plain = step(model, layers);
  assert.equal(plain.grads.size, 6);
  model.gradient_checkpointing_enable();
  assertSameStep(step(model, layers), plain, "frozen base");
  model.gradient_checkpointing_disable();
  // The input-embedding hook went with it: the embeddings' output needs no grad again.
  const embeds = model.get_input_embeddings().forward(ids);
  assert.equal(embeds.requires_grad, false);
});

test("gradient_checkpointing_enable: use_reentrant=false is refused up front", () => {
  const { model } = build("gpt2");
  assert.throws(() => model.gradient_checkpointing_enable({ gradient_checkpointing_kwargs: { use_reentrant: false } }), /not supported/);
  assert.equal(model.is_gradient_checkpointing, false);
});
