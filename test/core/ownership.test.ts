// What the library's internal scopes may free and what they must not: a scope frees the tensors
// made inside it, except its result and what a longer-lived owner took (a KV cache, an autograd
// ctx, a module attribute, a hook, an optimizer's state). A freed tensor still referenced from JS
// names itself as disposed. zero_grad runs in one native call with PyTorch's semantics.
import { test } from "node:test";
import assert from "node:assert/strict";
import { torch } from "../../src/index.js";
import { escape } from "../../src/torch/memory.js";
import type { Tensor } from "../../src/torch/tensor.js";
import type { FunctionCtx } from "../../src/torch/autograd/function.js";
import { DynamicCache, LlamaConfig, LlamaForCausalLM } from "../../src/transformers/index.js";

torch.set_num_threads(1);

test("a scope frees its temporaries, keeps its result and escaped tensors; a freed tensor says so", () => {
  let temp: Tensor | null = null;
  let kept: Tensor | null = null;
  const out = torch.scope(() => {
    temp = torch.ones(3).mul(2);
    kept = temp.add(1);
    escape(kept);
    return temp.add(5);
  });
  assert.deepEqual(out.tolist(), [7, 7, 7]);
  assert.deepEqual(kept!.tolist(), [3, 3, 3]);
  assert.equal(temp!.is_disposed, true);
  assert.throws(() => temp!.add(1), /disposed Tensor/);
});

test("escape() in a scope takes what a hook may be handed (a Generator too); a result kept through nested scopes stays usable", () => {
  const g = new torch.Generator();
  g.manual_seed(7);
  const out = torch.scope(() => {
    const inner = torch.scope(() => torch.ones(2).mul(3));
    escape([g, inner]);
    return inner.add(1);
  });
  assert.deepEqual(out.tolist(), [4, 4]);
  assert.equal(g.initial_seed(), 7);
});

class Cube extends torch.autograd.Function {
  static override forward(ctx: FunctionCtx, x: Tensor): Tensor {
    const sq = x.mul(x); // made inside the scope below, needed by backward after it ended
    ctx.save_for_backward(sq);
    ctx.x = x.clone();
    return sq.mul(x);
  }

  static override backward(ctx: FunctionCtx, grad: Tensor): Tensor {
    return grad
      .mul(ctx.saved_tensors[0])
      .mul(3)
      .add((ctx.x as Tensor).mul(0));
  }
}

test("what an autograd ctx saved inside a scope lives until backward", () => {
  const x = torch.tensor([1, 2, 3], { requires_grad: true });
  const y = torch.scope(() => Cube.apply(x).sum());
  y.backward();
  assert.deepEqual(x.grad!.tolist(), [3, 12, 27]); // d(x³)/dx = 3x²
});

class Child extends torch.nn.Module {
  override forward(x: Tensor): Tensor {
    return x.mul(2);
  }
}

class Parent extends torch.nn.Module {
  child = new Child();
  override forward(x: Tensor): Tensor {
    return torch.scope(() => (this.child(x.add(1)) as Tensor).sum());
  }
}

test("tensors handed to hooks and tensors set as module attributes survive the scope they were made in", () => {
  const parent = new Parent();
  const seen: Tensor[] = [];
  parent.child.register_forward_hook((_m, args, out) => void seen.push(args[0] as Tensor, out as Tensor));
  assert.equal((parent(torch.ones(2)) as Tensor).item(), 8);
  assert.deepEqual(
    seen.map((t) => t.tolist()),
    [
      [2, 2],
      [4, 4],
    ],
  );

  const m = new torch.nn.Module();
  torch.scope(() => m.register_buffer("table", torch.arange(3).mul(10)));
  assert.deepEqual((m as unknown as { table: Tensor }).table.tolist(), [0, 10, 20]);
});

test("an optimizer's state made inside its step's scope lives on (SGD momentum, by hand)", () => {
  const p = torch.tensor([1.0], { requires_grad: true });
  const opt = new torch.optim.SGD([p], { lr: 0.1, momentum: 0.9 });
  for (let i = 0; i < 2; i++) {
    p.sum().backward(); // grad 1
    opt.step();
    opt.zero_grad();
  }
  // buf 1 → p 0.9; buf 0.9·1 + 1 = 1.9 → p 0.9 − 0.19 = 0.71
  assert.ok(Math.abs(p.item() - 0.71) < 1e-6, `p = ${p.item()}`);
});

// A cache class of its own update (as a pipeline stage's): what update returns is the cache's.
class ConcatCache extends DynamicCache {
  override update(key: Tensor, value: Tensor, layer_idx: number): [Tensor, Tensor] {
    const k = this.key_cache[layer_idx];
    this.key_cache[layer_idx] = k === undefined ? key.mul(1) : torch.cat([k, key], -2);
    this.value_cache[layer_idx] = k === undefined ? value.mul(1) : torch.cat([this.value_cache[layer_idx], value], -2);
    return [this.key_cache[layer_idx], this.value_cache[layer_idx]];
  }
}

for (const Cache of [DynamicCache, ConcatCache])
  test(`the KV cache (${Cache.name}) keeps what the decoder layers' scopes made: cached decoding equals a full forward`, () => {
    torch.manual_seed(0);
    const model = LlamaForCausalLM.from_config(
      new LlamaConfig({
        vocab_size: 32,
        hidden_size: 16,
        intermediate_size: 32,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
      }),
    );
    model.eval();
    const ids = torch.tensor([[3, 7, 1, 4, 9]], { dtype: torch.int64 });
    torch.no_grad(() => {
      const full = model.forward(ids, { use_cache: false }).logits.index([0, -1]);
      const cache = new Cache();
      model.forward(ids.narrow(1, 0, 4), { past_key_values: cache, use_cache: true });
      for (const k of cache.key_cache) assert.equal(k.is_disposed, false);
      const next = model.forward(ids.narrow(1, 4, 1), {
        past_key_values: cache,
        use_cache: true,
        position_ids: torch.tensor([[4]], { dtype: torch.int64 }),
      });
      const diff = next.logits.index([0, -1]).sub(full).abs().max().item();
      assert.ok(diff < 1e-5, `cached and full logits differ by ${diff}`);
    });
  });

test("zero_grad: set_to_none drops each gradient; otherwise zeroes it in place, detached", () => {
  const lin = new torch.nn.Linear(2, 2);
  const x = torch.ones(1, 2);
  lin(x).sum().backward();
  const g = lin.weight.grad!;
  lin.zero_grad({ set_to_none: false });
  assert.equal(torch._C.sameTensor(lin.weight.grad!._h, g._h), true, "the same gradient tensor, zeroed in place");
  assert.deepEqual(g.tolist(), [
    [0, 0],
    [0, 0],
  ]);
  // A gradient with history (create_graph) is detached before zeroing, as PyTorch's zero_grad does.
  const w = torch.tensor([2.0], { requires_grad: true });
  w.pow(3).sum().backward(null, { create_graph: true });
  assert.notEqual(w.grad!.grad_fn, null);
  const opt = new torch.optim.SGD([w], { lr: 0.1 });
  opt.zero_grad({ set_to_none: false });
  assert.equal(w.grad!.grad_fn, null);
  assert.equal(w.grad!.requires_grad, false);
  assert.deepEqual(w.grad!.tolist(), [0]);
  opt.zero_grad();
  lin.zero_grad();
  assert.equal(w.grad, null);
  assert.equal(lin.weight.grad, null);
  assert.equal(lin.bias!.grad, null);
});

test("tolist() in a synchronous loop (no await) keeps no tensor alive", () => {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) throw new Error("run this file with node --expose-gc");
  // Each read is of a 2-element view of a fresh 1 MiB tensor: a view that kept its storage until
  // the event loop ran would hold all of them. The first round warms the allocator up (glibc keeps
  // freed memory for reuse, so RSS alone does not fall); a second round must then reuse it.
  const round = () => {
    for (let i = 0; i < 400; i++) assert.deepEqual(torch.ones(262_144).narrow(0, 0, 2).tolist(), [1, 1]);
    collect();
  };
  round();
  const before = process.memoryUsage.rss();
  round();
  const grown = (process.memoryUsage.rss() - before) / 2 ** 20;
  assert.ok(grown < 100, `RSS grew ${grown.toFixed(0)} MiB over a second round of 400 tolist() calls`);
});
