// torch.utils.checkpoint against Python's reentrant checkpoint: values and gradients of a function
// with dropout (RNG replayed, or not), several outputs and non-tensor arguments; then what the
// TypeScript mapping adds (fn's keyword arguments, tensors nested in arrays and objects) and
// _checkpoint_module, the wrapper gradient checkpointing puts on a layer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { torch } from "../../src/index.js";
import type { Tensor } from "../../src/torch/tensor.js";
import { assertClose, runPython, type PyValue } from "../helpers/oracle.js";

const { checkpoint, _checkpoint_module } = torch.utils.checkpoint;
const F = torch.nn.functional;

torch.manual_seed(3);
const X = torch.randn(4, 6);
const Y = torch.randn(5);
const W = torch.randn(6, 5);

function leaves(): { x: Tensor; y: Tensor; w: Tensor } {
  return { x: X.clone().requires_grad_(), y: Y.clone().requires_grad_(), w: new torch.nn.Parameter(W.clone()) };
}

/** Two outputs, dropout, a number and a string among the arguments. */
function fn(w: Tensor): (x: Tensor, y: Tensor, k: number, act: string) => [Tensor, Tensor] {
  return (x, y, k, act) => {
    const h = F.dropout(x.matmul(w).add(y), 0.3, true);
    return [(act === "tanh" ? h.tanh() : h.relu()).mul(k), h.pow(2).sum(-1)];
  };
}

interface Run {
  a: Tensor;
  b: Tensor;
  gx: Tensor;
  gy: Tensor;
  gw: Tensor;
  after: Tensor;
}

function runTs(mode: "plain" | "checkpoint" | "no_rng"): Run {
  const { x, y, w } = leaves();
  torch.manual_seed(0);
  const [a, b] =
    mode === "plain"
      ? fn(w)(x, y, 2.5, "tanh")
      : checkpoint(fn(w), x, y, 2.5, "tanh", { use_reentrant: true, preserve_rng_state: mode === "checkpoint" });
  a.sum().add(b.mul(0.1).sum()).backward();
  return { a, b, gx: x.grad!, gy: y.grad!, gw: w.grad!, after: torch.rand(3) };
}

const expected = runPython(
  String.raw`
from torch.utils.checkpoint import checkpoint
def run(preserve):
    x, y, w = X.clone().requires_grad_(), Y.clone().requires_grad_(), torch.nn.Parameter(W.clone())
    def fn(x, y, k, act):
        h = torch.nn.functional.dropout(x @ w + y, 0.3, training=True)
        return (h.tanh() if act == "tanh" else h.relu()) * k, h.pow(2).sum(-1)
    torch.manual_seed(0)
    a, b = checkpoint(fn, x, y, 2.5, "tanh", use_reentrant=True, preserve_rng_state=preserve)
    (a.sum() + (b * 0.1).sum()).backward()
    return {"a": a, "b": b, "gx": x.grad, "gy": y.grad, "gw": w.grad, "after": torch.rand(3)}
out["checkpoint"] = run(True)
out["no_rng"] = run(False)
`,
  { X, Y, W },
) as Record<string, Record<string, PyValue>>;

function assertRun(actual: Run, exp: Record<string, PyValue> | Run, msg: string, rtol = 1e-5): void {
  for (const k of ["a", "b", "gx", "gy", "gw", "after"] as const) {
    assertClose(actual[k], exp[k] as Tensor, { rtol, atol: 1e-6, msg: `${msg} ${k}` });
  }
}

test("checkpoint with dropout matches Python: values, gradients, and the RNG stream after backward", () => {
  const ck = runTs("checkpoint");
  assert.equal(ck.a.grad_fn?.name(), "CheckpointFunctionBackward");
  assertRun(ck, expected.checkpoint, "checkpoint");
  // The replayed dropout masks make it the computation without checkpointing.
  assertRun(ck, runTs("plain"), "checkpoint vs plain");
});

test("preserve_rng_state: false recomputes with fresh dropout masks, as in Python", () => {
  const noRng = runTs("no_rng");
  assertRun(noRng, expected.no_rng, "preserve_rng_state=false");
  assert.ok(!noRng.gw.equal(runTs("plain").gw), "the recomputation drew other masks");
});

test("fn's keyword arguments, tensors nested in arrays and objects, object outputs", () => {
  const { x, y, w } = leaves();
  const g = (pair: [Tensor, { t: Tensor }], opts: { scale: number }): { out: Tensor; aux: Tensor[] } => {
    const h = pair[0].matmul(w).mul(pair[1].t);
    return { out: h.mul(opts.scale), aux: [h.sum(), pair[0].detach()] };
  };
  // The trailing object's checkpoint keys are checkpoint's, the rest are g's options.
  const r = checkpoint(g, [x, { t: y }], { scale: 3, preserve_rng_state: false });
  assert.equal(r.aux.length, 2);
  assert.equal(r.aux[1].requires_grad, true, "every floating-point output is an output of the checkpoint node");
  r.out.sum().add(r.aux[0]).backward();

  const ref = leaves();
  const h = ref.x.matmul(ref.w).mul(ref.y);
  h.mul(3).sum().add(h.sum()).backward();
  assertClose(r.out, h.mul(3), { msg: "out" });
  assertClose(x.grad!, ref.x.grad!, { msg: "grad of a tensor in an array" });
  assertClose(y.grad!, ref.y.grad!, { msg: "grad of a tensor in an object" });
  assertClose(w.grad!, ref.w.grad!, { msg: "parameter grad from the nested backward" });
});

test("integer outputs, inputs without grad, and the errors", () => {
  const x = torch.randn(3, { requires_grad: true });
  const [v, i] = checkpoint((t: Tensor) => t.max(0), x);
  assert.equal(i.requires_grad, false);
  v.backward();
  assertClose(x.grad!, torch.zeros(3).index_put_([i], torch.tensor(1)), { msg: "max grad" });

  const c = torch.randn(3);
  assert.equal(checkpoint((t: Tensor) => t.exp(), c).requires_grad, false, "no input requires grad: no graph, as in PyTorch");

  assert.throws(() => checkpoint((t: Tensor) => t.exp(), x, { use_reentrant: false }), /use_reentrant=false .* is not supported/);
  const detached = checkpoint((t: Tensor) => t.detach().add(0), x);
  assert.throws(() => detached.sum().backward(), /none of output has requires_grad=True/);
});

class Block extends torch.nn.Module {
  fc = new torch.nn.Linear(6, 6);
  drop = new torch.nn.Dropout(0.2);

  override forward(x: Tensor, opts: { shift: Tensor }): Tensor {
    return this.drop.forward(this.fc.forward(x).tanh()).add(opts.shift);
  }
}

test("_checkpoint_module: checkpoints only while training with grad; hooks run inside; remove() undoes it", () => {
  torch.manual_seed(1);
  const block = new Block();
  const x = torch.randn(2, 6, { requires_grad: true });
  const shift = torch.randn(6);
  let calls = 0;
  block.register_forward_pre_hook(() => void calls++);

  const step = (): { out: Tensor; grad: Tensor; calls: number } => {
    block.zero_grad();
    calls = 0;
    torch.manual_seed(5);
    const out = block.forward(x, { shift });
    out.pow(2).sum().backward();
    return { out, grad: block.fc.weight.grad!.clone(), calls };
  };
  const plain = step();
  const handle = _checkpoint_module(block);
  const ck = step();
  assert.equal(ck.out.grad_fn?.name(), "CheckpointFunctionBackward");
  assert.equal(ck.calls, 2, "the pre-hook runs again in the recomputation");
  assertClose(ck.out, plain.out, { rtol: 0, atol: 0, msg: "output" });
  assertClose(ck.grad, plain.grad, { msg: "weight grad" });

  block.eval();
  assert.equal(step().calls, 1, "eval: no checkpoint");
  block.train();
  torch.no_grad(() => assert.equal(block.forward(x, { shift }).grad_fn, null));

  // Assigning forward replaces the implementation under the checkpoint.
  block.forward = (t: Tensor) => t.mul(2);
  assert.equal((block.forward(x, { shift }) as Tensor).grad_fn?.name(), "CheckpointFunctionBackward");
  handle.remove();
  const out = block.forward(x, { shift }) as Tensor;
  assert.equal(out.grad_fn?.name(), "MulBackward0");
  assert.throws(() => _checkpoint_module(block, { use_reentrant: false }), /not supported/);
});
