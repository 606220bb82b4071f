// A training loop written like PyTorch's (no dispose, no scopes) must not leak: GC finalizers free
// the native tensors, and custom Function / hook callbacks are released with their graph nodes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { torch } from "../../src/index.js";
import type { Tensor } from "../../src/torch/tensor.js";
import type { FunctionCtx } from "../../src/torch/autograd/function.js";
import { liveCallbackCount } from "../../src/torch/_callbacks.js";

class Square extends torch.autograd.Function {
  static override forward(ctx: FunctionCtx, x: Tensor): Tensor {
    ctx.save_for_backward(x);
    return x.mul(x);
  }

  static override backward(ctx: FunctionCtx, grad: Tensor): Tensor {
    return grad.mul(ctx.saved_tensors[0]).mul(2);
  }
}

// A full collection on demand, so counts of what GC has freed do not depend on when it last ran
// (scripts/run-tests.mjs starts node with --expose-gc).
function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) throw new Error("run this file with node --expose-gc");
  collect();
}

// One intra-op thread: on a shared, oversubscribed box OpenMP's barriers make each tiny matmul
// cost milliseconds, and threading is not what this file tests.
torch.set_num_threads(1);

// RSS climbs while V8 grows its young generation (up to its default 16 MiB semi-space, and the
// tensors that die with each collection with it) and the allocator its arenas: for 10,000-15,000
// steps of this loop with node's default flags, then it stays flat (checked over 60,000 steps).
// The 20,000 measured steps start after that. (Under `tessera run`, which starts node with a small
// young generation, RSS is already flat at 5,000 steps, and lower.)
const WARMUP = 20_000;
const STEPS = WARMUP + 20_000;

function mlp() {
  torch.manual_seed(0);
  const params = [torch.randn(16, 32), torch.zeros(32), torch.randn(32, 1)].map((p) => p.requires_grad_());
  return { params, x: torch.randn(8, 16), y: torch.randn(8, 1) };
}

function sgd(params: Tensor[]): void {
  torch.no_grad(() => {
    for (const p of params) p.sub_(p.grad!.mul(1e-4));
  });
  for (const p of params) p.grad = null;
}

test("20,000 small forward/backward steps keep RSS flat without manual disposal (after a warm-up)", (t) => {
  const {
    params: [w1, b1, w2],
    x,
    y,
  } = mlp();
  const step = () => {
    x.matmul(w1).add(b1).relu().matmul(w2).sub(y).pow(2).mean().backward();
    sgd([w1, b1, w2]);
  };
  for (let i = 0; i < WARMUP; i++) step();
  gc();
  const before = process.memoryUsage().rss;
  for (let i = WARMUP; i < STEPS; i++) step();
  gc();
  const after = process.memoryUsage().rss;
  const growth = (after - before) / before;
  t.diagnostic(`RSS ${(before / 2 ** 20).toFixed(1)} -> ${(after / 2 ** 20).toFixed(1)} MiB (${(growth * 100).toFixed(1)}%)`);
  assert.ok(
    growth < 0.05,
    `RSS grew ${(growth * 100).toFixed(1)}% (${(before / 2 ** 20).toFixed(1)} -> ${(after / 2 ** 20).toFixed(1)} MiB) over ${STEPS - WARMUP} steps`,
  );
});

test("custom Function and hook callbacks are released with their graphs", (t) => {
  const {
    params: [w1, b1, w2],
    x,
    y,
  } = mlp();
  const steps = 10_000;
  for (let i = 0; i < steps; i++) {
    const h = x.matmul(w1).add(b1);
    h.register_hook((g) => g.mul(0.5));
    Square.apply(h.relu()).matmul(w2).sub(y).pow(2).mean().backward();
    sgd([w1, b1, w2]);
  }
  // Two callbacks a step were registered. When a callback's closure kept its own graph alive, none
  // was ever released; now GC frees them as it frees the tensors. A released callback leaves the
  // registry when it is next looked at, and what it kept alive goes at the next collection.
  let live = liveCallbackCount();
  for (let i = 0; i < 3; i++) {
    gc();
    live = liveCallbackCount();
  }
  t.diagnostic(`${live} of ${2 * steps} callbacks still registered`);
  assert.ok(live < 100, `${live} of ${2 * steps} autograd callbacks are still registered`);
});
