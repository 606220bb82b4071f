// Autograd against Python PyTorch: backward with a gradient and retain_graph, autograd.grad with
// create_graph, grad modes, detach, accumulation, hooks, retain_grad and custom Functions. Every
// case runs twice: with backward inline on the main thread (the CPU default) and on the engine
// worker with the main thread pumping JS callbacks (what accelerator machines use).
import { test } from "node:test";
import assert from "node:assert/strict";
import { torch } from "../../src/index.js";
import type { Tensor } from "../../src/torch/tensor.js";
import type { FunctionCtx } from "../../src/torch/autograd/function.js";
import { assertClose, runPython } from "../helpers/oracle.js";

class Exp extends torch.autograd.Function {
  static override forward(ctx: FunctionCtx, x: Tensor): Tensor {
    const y = x.exp();
    ctx.save_for_backward(y);
    return y;
  }

  static override backward(ctx: FunctionCtx, grad: Tensor): Tensor {
    return grad.mul(ctx.saved_tensors[0]);
  }
}

class ScaledMul extends torch.autograd.Function {
  static override forward(ctx: FunctionCtx, a: Tensor, b: Tensor, scale: number): Tensor {
    ctx.save_for_backward(a, b);
    ctx.scale = scale;
    return a.mul(b).mul(scale);
  }

  static override backward(ctx: FunctionCtx, grad: Tensor): (Tensor | null)[] {
    const [a, b] = ctx.saved_tensors;
    const s = ctx.scale as number;
    return [grad.mul(b).mul(s), grad.mul(a).mul(s), null];
  }
}

torch.manual_seed(0);
const x0 = torch.randn(3, 4);
const w0 = torch.randn(4, 2);
const v0 = torch.randn(3, 2);

const PY = String.raw`
x = x0.clone().requires_grad_(); w = w0.clone().requires_grad_()
y = (x @ w).tanh()
y.backward(v0, retain_graph=True)
out["bw_x"], out["bw_w"] = x.grad.clone(), w.grad.clone()
y.backward(v0)
out["acc_x"] = x.grad
try:
    y.backward(v0)
except RuntimeError as e:
    out["second_backward_error"] = str(e).split("\n")[0]
x = x0.clone().requires_grad_()
g, = torch.autograd.grad((x ** 3).sum(), x, create_graph=True)
out["g1"] = g
g2, = torch.autograd.grad(g.sum(), x)
out["g2"] = g2
x = x0.clone().requires_grad_()
e = torch.exp(x)
out["fn_twice"] = torch.autograd.grad((e * 2 + e.sin()).sum() + torch.exp(x).sum(), x)[0]
a = x0.clone().requires_grad_(); b = x0.flip(0).clone().requires_grad_()
h = a @ w0
h.register_hook(lambda g: g * 10)
(torch.exp(h) * v0).sum().backward()
out["hook_fn_a"] = a.grad
out["scaled_a"], out["scaled_b"] = torch.autograd.grad((a * b * 2.5).sum(), [a, b])
x = x0.clone().requires_grad_(); w = w0.clone().requires_grad_()
out["positional_grad"] = torch.autograd.grad((x @ w).tanh(), [x, w], v0)
torch.autograd.backward([(x @ w).sin()], [v0])
out["positional_backward"] = [x.grad, w.grad]
class Probe(torch.autograd.Function):
    seen = []
    @staticmethod
    def forward(ctx, x):
        return x * 2
    @staticmethod
    def backward(ctx, g):
        Probe.seen.append(torch.is_grad_enabled())
        return g * 2
x = x0.clone().requires_grad_()
Probe.apply(x).sum().backward()
torch.autograd.grad(Probe.apply(x).sum(), x, create_graph=True)
out["grad_mode_in_backward"] = Probe.seen
`;

const expected = runPython(PY, { x0, w0, v0 });
const E = (k: string) => expected[k] as Tensor;

for (const onWorker of [false, true]) {
  const mode = onWorker ? "engine on the worker thread" : "engine inline";
  const withMode = (fn: () => void) => () => {
    const prev = torch._C.isEngineOnWorker();
    torch._C.setEngineOnWorker(onWorker);
    try {
      fn();
    } finally {
      torch._C.setEngineOnWorker(prev);
    }
  };

  test(
    `backward with a gradient, retain_graph, accumulation (${mode})`,
    withMode(() => {
      const x = x0.clone().requires_grad_();
      const w = w0.clone().requires_grad_();
      const y = x.matmul(w).tanh();
      y.backward(v0, { retain_graph: true });
      assertClose(x.grad!, E("bw_x"));
      assertClose(w.grad!, E("bw_w"));
      y.backward(v0);
      assertClose(x.grad!, E("acc_x"), { msg: "a second backward accumulates into .grad" });
      assert.throws(
        () => y.backward(v0),
        (e: Error) => e.message.startsWith(expected.second_backward_error as string),
      );
    }),
  );

  test(
    `autograd.grad with create_graph gives a double backward (${mode})`,
    withMode(() => {
      const x = x0.clone().requires_grad_();
      const [g] = torch.autograd.grad(x.pow(3).sum(), x, { create_graph: true });
      assertClose(g!, E("g1"));
      assert.ok(g!.requires_grad);
      const [g2] = torch.autograd.grad(g!.sum(), x);
      assertClose(g2!, E("g2"));
      assert.equal(x.grad, null, "autograd.grad does not touch .grad");
    }),
  );

  test(
    `a custom Function used twice in one graph (${mode})`,
    withMode(() => {
      const x = x0.clone().requires_grad_();
      const e = Exp.apply(x);
      assert.equal(e.grad_fn!.name(), "ExpBackward");
      const loss = e.mul(2).add(e.sin()).sum().add(Exp.apply(x).sum());
      const [g] = torch.autograd.grad(loss, x);
      assertClose(g!, E("fn_twice"));
    }),
  );

  test(
    `a custom Function reached through a tensor hook, and non-tensor arguments (${mode})`,
    withMode(() => {
      const a = x0.clone().requires_grad_();
      const h = a.matmul(w0);
      h.register_hook((g) => g.mul(10));
      Exp.apply(h).mul(v0).sum().backward();
      assertClose(a.grad!, E("hook_fn_a"));
      const p = x0.clone().requires_grad_();
      const q = x0.flip(0).clone().requires_grad_();
      const [gp, gq] = torch.autograd.grad(ScaledMul.apply(p, q, 2.5).sum(), [p, q]);
      assertClose(gp!, E("scaled_a"));
      assertClose(gq!, E("scaled_b"));
    }),
  );

  test(
    `autograd.grad and autograd.backward take the output gradients positionally, as Python does (${mode})`,
    withMode(() => {
      const x = x0.clone().requires_grad_();
      const w = w0.clone().requires_grad_();
      const [pgx, pgw] = expected.positional_grad as Tensor[];
      for (const [gx, gw] of [
        torch.autograd.grad(x.matmul(w).tanh(), [x, w], v0),
        torch.autograd.grad(x.matmul(w).tanh(), [x, w], [v0], { retain_graph: false }),
        torch.autograd.grad(x.matmul(w).tanh(), [x, w], { grad_outputs: v0 }),
      ]) {
        assertClose(gx!, pgx);
        assertClose(gw!, pgw);
      }
      torch.autograd.backward([x.matmul(w).sin()], [v0]);
      const [bx, bw] = expected.positional_backward as Tensor[];
      assertClose(x.grad!, bx);
      assertClose(w.grad!, bw);
      assert.deepEqual(torch.autograd.grad(x.sum(), x, null)[0]!.tolist(), torch.ones(3, 4).tolist(), "null grad_outputs is Python's None");
    }),
  );

  test(
    `a custom backward runs with grad mode = create_graph, as in Python (${mode})`,
    withMode(() => {
      const seen: boolean[] = [];
      class Probe extends torch.autograd.Function {
        static override forward(_ctx: FunctionCtx, x: Tensor): Tensor {
          return x.mul(2);
        }

        static override backward(_ctx: FunctionCtx, g: Tensor): Tensor {
          seen.push(torch.is_grad_enabled());
          return g.mul(2);
        }
      }
      const x = x0.clone().requires_grad_();
      Probe.apply(x).sum().backward();
      torch.autograd.grad(Probe.apply(x).sum(), x, { create_graph: true });
      assert.deepEqual(seen, expected.grad_mode_in_backward);
    }),
  );

  test(
    `what a backward or a hook throws reaches the caller as the same value (${mode})`,
    withMode(() => {
      class MyError extends Error {
        code = 42;
      }
      for (const thrown of [new MyError("mine"), "a string", undefined]) {
        class Throws extends torch.autograd.Function {
          static override forward(_ctx: FunctionCtx, x: Tensor): Tensor {
            return x.mul(2);
          }

          static override backward(): Tensor {
            throw thrown;
          }
        }
        assert.throws(
          () =>
            Throws.apply(torch.ones(2, { requires_grad: true }))
              .sum()
              .backward(),
          (e: unknown) => e === thrown,
        );
        const y = torch.ones(2, { requires_grad: true });
        y.register_hook(() => {
          throw thrown;
        });
        assert.throws(
          () => torch.autograd.grad(y.mul(3).sum(), y),
          (e: unknown) => e === thrown,
        );
      }
      assert.throws(() => torch.ones(2).add(torch.ones(3)), /must match the size/, "a later error is its own");
    }),
  );

  test(
    `a backward's or hook's result must be a Tensor or null; non-tensor forward outputs pass through (${mode})`,
    withMode(() => {
      const backwardReturning = (value: () => unknown) =>
        class Returns extends torch.autograd.Function {
          static override forward(_ctx: FunctionCtx, x: Tensor, k: number): unknown[] {
            return [x.mul(k), k];
          }

          static override backward(): (Tensor | null)[] {
            return [value() as Tensor, null];
          }
        };
      const x = torch.ones(2, { requires_grad: true });
      const [y, k] = backwardReturning(() => torch.full([2], 7)).apply(x, 3) as [Tensor, number];
      assert.equal(k, 3, "a number output comes back as itself");
      y.sum().backward();
      assert.deepEqual(x.grad!.tolist(), [7, 7]);
      const run = (value: () => unknown) => () =>
        (backwardReturning(value).apply(torch.ones(2, { requires_grad: true }), 3) as Tensor[])[0].sum().backward();
      assert.throws(
        run(() => 5),
        {
          name: "TypeError",
          message: "function ReturnsBackward returned a gradient of type number at position 1; expected a Tensor or null",
        },
      );
      assert.throws(
        run(() => Promise.resolve(torch.ones(2))),
        {
          name: "TypeError",
          message: /type Promise at position 1; expected a Tensor or null \(backward must return its gradients synchronously\)$/,
        },
      );
      assert.throws(
        run(() => {
          const t = torch.ones(2);
          t.dispose();
          return t;
        }),
        /a gradient is a disposed Tensor/,
      );
      const h = torch.ones(2, { requires_grad: true });
      h.register_hook(() => 5 as never);
      assert.throws(() => h.mul(2).sum().backward(), {
        name: "TypeError",
        message: "a tensor hook returned a value of type number; expected a Tensor or null",
      });
    }),
  );

  test(
    `an error thrown in a custom backward reaches the caller (${mode})`,
    withMode(() => {
      class Broken extends torch.autograd.Function {
        static override forward(_ctx: FunctionCtx, x: Tensor): Tensor {
          return x.clone();
        }

        static override backward(): Tensor {
          throw new Error("broken backward");
        }
      }
      const x = torch.ones(2, { requires_grad: true });
      assert.throws(() => Broken.apply(x).sum().backward(), /broken backward/);
    }),
  );
}

test("no_grad, enable_grad, inference_mode and set_grad_enabled", () => {
  const x = torch.ones(2, { requires_grad: true });
  const y = torch.no_grad(() => x.mul(2));
  assert.equal(y.requires_grad, false);
  assert.equal(torch.is_grad_enabled(), true);
  const z = torch.no_grad(() => torch.enable_grad(() => x.mul(2)));
  assert.equal(z.requires_grad, true);
  const i = torch.inference_mode(() => {
    assert.equal(torch.is_inference_mode_enabled(), true);
    return x.mul(2);
  });
  assert.equal(i.requires_grad, false);
  assert.equal(torch.is_inference_mode_enabled(), false);
  assert.throws(
    () =>
      torch.no_grad(() => {
        throw new Error("inside");
      }),
    /inside/,
  );
  assert.equal(torch.is_grad_enabled(), true, "the mode is restored after a throw");
  torch.set_grad_enabled(false);
  assert.equal(x.mul(2).requires_grad, false);
  torch.set_grad_enabled(true);
  assert.equal(x.mul(2).requires_grad, true);
});

test("detach shares memory and drops history", () => {
  const x = torch.ones(3, { requires_grad: true });
  const y = x.mul(2);
  const d = y.detach();
  assert.equal(d.requires_grad, false);
  assert.equal(d.grad_fn, null);
  d.index_put_([0], 5);
  assert.equal(y.index([0]).item(), 5, "detach() is a view of the same memory");
  assert.equal(y.grad_fn!.name(), "MulBackward0");
  assert.equal(x.is_leaf, true);
  assert.equal(y.is_leaf, false);
});

test("tensor hooks modify the gradient and can be removed; retain_grad keeps a non-leaf's grad", () => {
  const x = torch.tensor([1.0, 2.0], { requires_grad: true });
  const handle = x.register_hook((g) => g.mul(3));
  x.mul(x).sum().backward();
  assert.deepEqual(x.grad!.tolist(), [6, 12]);
  handle.remove();
  x.grad = null;
  x.mul(x).sum().backward();
  assert.deepEqual(x.grad!.tolist(), [2, 4]);
  const h = x.mul(2);
  h.retain_grad();
  const seen: number[][] = [];
  h.register_hook((g) => {
    seen.push(g.tolist() as number[]);
  });
  h.pow(2).sum().backward();
  assert.deepEqual(h.grad!.tolist(), [4, 8]);
  assert.deepEqual(seen, [[4, 8]]);
  assert.throws(() => torch.ones(2).register_hook((g) => g), /cannot register a hook on a tensor that doesn't require gradient/);
});
