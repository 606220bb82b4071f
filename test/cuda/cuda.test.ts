// CUDA checks, run on a GPU machine by scripts/gpu-check.sh (the CPU suite excludes test/cuda/:
// see scripts/run-tests.mjs). Each result on the GPU is compared with the same computation on the
// CPU, and the autograd pump is exercised from libtorch's CUDA device threads.
import { test } from "node:test";
import assert from "node:assert/strict";
import { torch } from "../../src/index.js";
import { assertClose } from "../helpers/oracle.js";

const F = torch.nn.functional;

test("CUDA is available and reports memory", () => {
  assert.ok(torch.cuda.is_available(), "torch.cuda.is_available()");
  assert.ok(torch.cuda.device_count() >= 1);
  torch.cuda.reset_peak_memory_stats();
  const before = torch.cuda.memory_allocated();
  const x = torch.empty(1024, 1024, { device: "cuda" });
  assert.ok(torch.cuda.memory_allocated() >= before + 4 * 1024 * 1024);
  assert.ok(torch.cuda.max_memory_allocated() >= torch.cuda.memory_allocated());
  x.dispose();
  torch.cuda.empty_cache();
  const [free, total] = torch.cuda.mem_get_info();
  assert.ok(free > 0 && total >= free);
});

test("ops and gradients on CUDA equal the CPU's", () => {
  torch.manual_seed(0);
  const cases: [string, (x: torch.Tensor, w: torch.Tensor) => torch.Tensor][] = [
    ["matmul", (x, w) => x.matmul(w)],
    ["softmax", (x) => x.softmax(-1)],
    ["layer_norm", (x) => F.layer_norm(x, [16])],
    ["gelu", (x) => F.gelu(x)],
    [
      "sdpa_causal",
      (x) => F.scaled_dot_product_attention(x.view(2, 4, 4, 4), x.view(2, 4, 4, 4), x.view(2, 4, 4, 4), { is_causal: true }).reshape(8, 16),
    ],
    [
      "cross_entropy",
      (x) =>
        F.cross_entropy(x, torch.tensor([0, 1, 2, 3, -100, 5, 6, 7], { dtype: torch.int64, device: x.device }), { ignore_index: -100 }),
    ],
  ];
  const x0 = torch.randn(8, 16);
  const w0 = torch.randn(16, 16);
  for (const [name, f] of cases) {
    const run = (device: string) => {
      const x = x0.to(device).requires_grad_();
      const w = w0.to(device).requires_grad_();
      const y = f(x, w);
      y.sum().backward();
      return [y.cpu(), x.grad!.cpu()];
    };
    const [yc, gc] = run("cpu");
    const [yg, gg] = run("cuda");
    assertClose(yg, yc, { rtol: 1e-3, atol: 1e-4, msg: name });
    assertClose(gg, gc, { rtol: 1e-3, atol: 1e-4, msg: `${name} grad` });
  }
});

class Square extends torch.autograd.Function {
  static override forward(ctx: torch.autograd.FunctionCtx, x: torch.Tensor): torch.Tensor {
    ctx.save_for_backward(x);
    return x.mul(x);
  }
  static override backward(ctx: torch.autograd.FunctionCtx, g: torch.Tensor): torch.Tensor {
    const [x] = ctx.saved_tensors;
    return g.mul(x).mul(2);
  }
}

test("custom Function and hooks run when backward runs on CUDA device threads", () => {
  const x = torch.randn(64, { device: "cuda", requires_grad: true });
  let hookCalls = 0;
  x.register_hook((g) => {
    hookCalls++;
    return g.mul(1);
  });
  const y = Square.apply(Square.apply(x));
  y.sum().backward();
  const expected = x.detach().pow(3).mul(4);
  assertClose(x.grad!.cpu(), expected.cpu(), { rtol: 1e-4, atol: 1e-5 });
  assert.equal(hookCalls, 1);
});

test("autocast bf16 on CUDA gives bf16 matmuls", () => {
  const a = torch.randn(32, 32, { device: "cuda" });
  const out = torch.autocast({ device_type: "cuda", dtype: torch.bfloat16 }, () => a.matmul(a));
  assert.equal(out.dtype, torch.bfloat16);
  assertClose(out.float().cpu(), a.cpu().matmul(a.cpu()), { rtol: 3e-2, atol: 3e-1 });
});
