// ~80 ops against Python PyTorch: forward values and dtypes, and for differentiable cases the
// gradients of sum(out * w) (w random, from Python) with respect to every floating input. All
// Python expressions run in ONE oracle call; each case is then its own node:test (test/helpers/python_cases.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { torch } from "../../src/index.js";
import type { Tensor } from "../../src/torch/tensor.js";
import { assertClose, type PyValue } from "../helpers/oracle.js";
import { testAgainstPython } from "../helpers/python_cases.js";

type Inputs = Record<string, Tensor>;

interface Case {
  name: string;
  inputs: Inputs;
  js: (i: Inputs) => Tensor | Tensor[];
  py: string;
  grad?: boolean;
}

torch.manual_seed(0);
const r = (...shape: number[]) => torch.randn(...shape);
const pos = (...shape: number[]) => torch.rand(...shape).add(0.5);
const ints = (high: number, ...shape: number[]) => torch.randint(high, shape);
const mask = (...shape: number[]) => torch.rand(...shape).gt(0.5);

// In-place ops act on a clone, so the gradient flows back to the input as in PyTorch.
const cases: Case[] = [
  // ---- elementwise and broadcasting
  { name: "add broadcast", inputs: { a: r(3, 4), b: r(4) }, js: ({ a, b }) => a.add(b), py: "a + b", grad: true },
  {
    name: "add alpha",
    inputs: { a: r(2, 3), b: r(2, 3) },
    js: ({ a, b }) => torch.add(a, b, { alpha: 2 }),
    py: "torch.add(a, b, alpha=2)",
    grad: true,
  },
  { name: "sub outer broadcast", inputs: { a: r(3, 1), b: r(1, 4) }, js: ({ a, b }) => a.sub(b), py: "a - b", grad: true },
  { name: "mul 3-d broadcast", inputs: { a: r(2, 3, 4), b: r(3, 1) }, js: ({ a, b }) => a.mul(b), py: "a * b", grad: true },
  { name: "div", inputs: { a: r(3, 4), b: pos(3, 4) }, js: ({ a, b }) => a.div(b), py: "a / b", grad: true },
  {
    name: "div rounding floor",
    inputs: { a: r(5).mul(10), b: pos(5) },
    js: ({ a, b }) => a.div(b, { rounding_mode: "floor" }),
    py: "torch.div(a, b, rounding_mode='floor')",
  },
  { name: "int tensor + int scalar stays int64", inputs: { a: ints(10, 4) }, js: ({ a }) => a.add(3), py: "a + 3" },
  { name: "int tensor + float tensor promotes", inputs: { a: ints(10, 4), b: r(4) }, js: ({ a, b }) => a.add(b), py: "a + b" },
  { name: "mul float scalar", inputs: { a: r(4) }, js: ({ a }) => a.mul(2.5), py: "a * 2.5", grad: true },
  { name: "rsub scalar", inputs: { a: r(4) }, js: ({ a }) => torch.rsub(a, 1), py: "1 - a", grad: true },
  { name: "pow scalar", inputs: { a: r(3, 3) }, js: ({ a }) => a.pow(3), py: "a ** 3", grad: true },
  { name: "pow tensor", inputs: { a: pos(3), b: r(3) }, js: ({ a, b }) => a.pow(b), py: "a ** b", grad: true },
  { name: "neg", inputs: { a: r(5) }, js: ({ a }) => a.neg(), py: "-a", grad: true },
  { name: "exp", inputs: { a: r(5) }, js: ({ a }) => a.exp(), py: "a.exp()", grad: true },
  { name: "log", inputs: { a: pos(5) }, js: ({ a }) => a.log(), py: "a.log()", grad: true },
  { name: "sqrt", inputs: { a: pos(5) }, js: ({ a }) => a.sqrt(), py: "a.sqrt()", grad: true },
  { name: "rsqrt", inputs: { a: pos(5) }, js: ({ a }) => a.rsqrt(), py: "a.rsqrt()", grad: true },
  { name: "abs", inputs: { a: r(5) }, js: ({ a }) => a.abs(), py: "a.abs()", grad: true },
  { name: "sin cos", inputs: { a: r(5) }, js: ({ a }) => a.sin().mul(a.cos()), py: "a.sin() * a.cos()", grad: true },
  { name: "tanh", inputs: { a: r(5) }, js: ({ a }) => a.tanh(), py: "a.tanh()", grad: true },
  { name: "sigmoid", inputs: { a: r(5) }, js: ({ a }) => a.sigmoid(), py: "a.sigmoid()", grad: true },
  { name: "relu", inputs: { a: r(6) }, js: ({ a }) => a.relu(), py: "a.relu()", grad: true },
  { name: "gelu", inputs: { a: r(6) }, js: ({ a }) => torch.gelu(a), py: "torch.nn.functional.gelu(a)", grad: true },
  {
    name: "gelu tanh",
    inputs: { a: r(6) },
    js: ({ a }) => torch.gelu(a, { approximate: "tanh" }),
    py: "torch.nn.functional.gelu(a, approximate='tanh')",
    grad: true,
  },
  { name: "silu", inputs: { a: r(6) }, js: ({ a }) => torch.silu(a), py: "torch.nn.functional.silu(a)", grad: true },
  { name: "clamp", inputs: { a: r(6) }, js: ({ a }) => a.clamp(-0.5, 0.5), py: "a.clamp(-0.5, 0.5)", grad: true },
  { name: "clamp min only", inputs: { a: r(6) }, js: ({ a }) => a.clamp({ min: 0.1 }), py: "a.clamp(min=0.1)", grad: true },
  { name: "maximum", inputs: { a: r(2, 3), b: r(3) }, js: ({ a, b }) => torch.maximum(a, b), py: "torch.maximum(a, b)", grad: true },
  { name: "minimum", inputs: { a: r(2, 3), b: r(2, 3) }, js: ({ a, b }) => torch.minimum(a, b), py: "torch.minimum(a, b)", grad: true },
  { name: "comparison gt", inputs: { a: r(4), b: r(4) }, js: ({ a, b }) => a.gt(b), py: "a > b" },
  { name: "eq scalar", inputs: { a: ints(3, 6) }, js: ({ a }) => a.eq(1), py: "a == 1" },
  // ---- torch.linalg, torch.fft and torch.special (the linalg_*, fft_* and special_* ATen ops)
  {
    name: "linalg.vector_norm",
    inputs: { a: r(3, 4) },
    js: ({ a }) => torch.linalg.vector_norm(a, 2, [1]),
    py: "torch.linalg.vector_norm(a, 2, [1])",
    grad: true,
  },
  {
    name: "linalg.matrix_norm fro",
    inputs: { a: r(3, 4) },
    js: ({ a }) => torch.linalg.matrix_norm(a),
    py: "torch.linalg.matrix_norm(a)",
    grad: true,
  },
  {
    name: "linalg.solve",
    inputs: { a: r(3, 3).add(torch.eye(3).mul(4)), b: r(3, 2) },
    js: ({ a, b }) => torch.linalg.solve(a, b),
    py: "torch.linalg.solve(a, b)",
    grad: true,
  },
  { name: "fft.rfft magnitude", inputs: { a: r(8) }, js: ({ a }) => torch.fft.rfft(a).abs(), py: "torch.fft.rfft(a).abs()", grad: true },
  { name: "special.erf", inputs: { a: r(5) }, js: ({ a }) => torch.special.erf(a), py: "torch.special.erf(a)", grad: true },
  // ---- reductions
  { name: "sum all", inputs: { a: r(3, 4) }, js: ({ a }) => a.sum(), py: "a.sum()", grad: true },
  { name: "sum dim keepdim", inputs: { a: r(3, 4) }, js: ({ a }) => a.sum(1, { keepdim: true }), py: "a.sum(1, keepdim=True)", grad: true },
  { name: "sum int64 of int32", inputs: { a: ints(5, 4).int() }, js: ({ a }) => a.sum(), py: "a.sum()" },
  { name: "mean dims", inputs: { a: r(2, 3, 4) }, js: ({ a }) => a.mean([0, 2]), py: "a.mean([0, 2])", grad: true },
  {
    name: "max dim (values, indices)",
    inputs: { a: r(3, 5) },
    js: ({ a }) => {
      const m = a.max(1);
      return [m.values, m.indices];
    },
    py: "tuple(a.max(1))",
    grad: true,
  },
  { name: "amax", inputs: { a: r(3, 5) }, js: ({ a }) => a.amax(0), py: "a.amax(0)", grad: true },
  { name: "min all", inputs: { a: r(3, 5) }, js: ({ a }) => a.min(), py: "a.min()", grad: true },
  { name: "argmax", inputs: { a: r(3, 5) }, js: ({ a }) => a.argmax(1), py: "a.argmax(1)" },
  { name: "prod dim", inputs: { a: r(3, 4) }, js: ({ a }) => a.prod(1), py: "a.prod(1)", grad: true },
  { name: "std dim", inputs: { a: r(3, 6) }, js: ({ a }) => a.std(1), py: "a.std(1)", grad: true },
  {
    name: "var correction 0",
    inputs: { a: r(3, 6) },
    js: ({ a }) => torch.var_mean(a, 1, { correction: 0 })[0],
    py: "torch.var_mean(a, 1, correction=0)[0]",
    grad: true,
  },
  { name: "logsumexp", inputs: { a: r(3, 6) }, js: ({ a }) => a.logsumexp(1), py: "a.logsumexp(1)", grad: true },
  { name: "cumsum", inputs: { a: r(3, 4) }, js: ({ a }) => a.cumsum(1), py: "a.cumsum(1)", grad: true },
  { name: "norm", inputs: { a: r(3, 4) }, js: ({ a }) => a.norm(), py: "a.norm()", grad: true },
  { name: "topk", inputs: { a: r(2, 6) }, js: ({ a }) => [...a.topk(3)], py: "tuple(a.topk(3))", grad: true },
  {
    name: "sort descending",
    inputs: { a: r(2, 6) },
    js: ({ a }) => [...a.sort({ dim: 1, descending: true })],
    py: "tuple(a.sort(dim=1, descending=True))",
    grad: true,
  },
  // ---- matmul family
  { name: "matmul 2-d", inputs: { a: r(3, 4), b: r(4, 5) }, js: ({ a, b }) => a.matmul(b), py: "a @ b", grad: true },
  { name: "matmul batched broadcast", inputs: { a: r(2, 3, 4), b: r(4, 5) }, js: ({ a, b }) => a.matmul(b), py: "a @ b", grad: true },
  { name: "matmul vector", inputs: { a: r(3, 4), b: r(4) }, js: ({ a, b }) => a.matmul(b), py: "a @ b", grad: true },
  { name: "mm", inputs: { a: r(3, 4), b: r(4, 2) }, js: ({ a, b }) => torch.mm(a, b), py: "torch.mm(a, b)", grad: true },
  { name: "bmm", inputs: { a: r(2, 3, 4), b: r(2, 4, 5) }, js: ({ a, b }) => a.bmm(b), py: "a.bmm(b)", grad: true },
  {
    name: "linear with bias",
    inputs: { x: r(4, 3), w: r(5, 3), b: r(5) },
    js: ({ x, w, b }) => torch.linear(x, w, b),
    py: "torch.nn.functional.linear(x, w, b)",
    grad: true,
  },
  {
    name: "linear without bias",
    inputs: { x: r(2, 4, 3), w: r(5, 3) },
    js: ({ x, w }) => torch.linear(x, w),
    py: "torch.nn.functional.linear(x, w)",
    grad: true,
  },
  {
    name: "addmm",
    inputs: { c: r(3), a: r(2, 4), b: r(4, 3) },
    js: ({ c, a, b }) => torch.addmm(c, a, b, { beta: 0.5, alpha: 2 }),
    py: "torch.addmm(c, a, b, beta=0.5, alpha=2)",
    grad: true,
  },
  {
    name: "einsum",
    inputs: { a: r(2, 3, 4), b: r(2, 4, 5) },
    js: ({ a, b }) => torch.einsum("bij,bjk->bik", [a, b]),
    py: "torch.einsum('bij,bjk->bik', a, b)",
    grad: true,
  },
  // ---- softmax, losses, embedding, normalization, attention
  { name: "softmax", inputs: { a: r(3, 5) }, js: ({ a }) => a.softmax(-1), py: "a.softmax(-1)", grad: true },
  { name: "log_softmax", inputs: { a: r(3, 5) }, js: ({ a }) => a.log_softmax(1), py: "a.log_softmax(1)", grad: true },
  {
    name: "softmax with dtype",
    inputs: { a: r(3, 5) },
    js: ({ a }) => a.softmax(1, { dtype: torch.float64 }),
    py: "a.softmax(1, dtype=torch.float64)",
    grad: true,
  },
  {
    name: "cross_entropy",
    inputs: { x: r(6, 4), t: ints(4, 6) },
    js: ({ x, t }) => torch.cross_entropy_loss(x, t),
    py: "torch.nn.functional.cross_entropy(x, t)",
    grad: true,
  },
  {
    name: "cross_entropy ignore_index",
    inputs: { x: r(6, 4), t: torch.tensor([0n, 3n, 1n, 1n, 2n, 1n]) },
    js: ({ x, t }) => torch.cross_entropy_loss(x, t, { ignore_index: 1 }),
    py: "torch.nn.functional.cross_entropy(x, t, ignore_index=1)",
    grad: true,
  },
  {
    name: "cross_entropy label_smoothing sum",
    inputs: { x: r(5, 3), t: ints(3, 5) },
    js: ({ x, t }) => torch.cross_entropy_loss(x, t, { reduction: 2, label_smoothing: 0.1 }),
    py: "torch.nn.functional.cross_entropy(x, t, reduction='sum', label_smoothing=0.1)",
    grad: true,
  },
  {
    name: "nll_loss",
    inputs: { x: r(4, 3), t: ints(3, 4) },
    js: ({ x, t }) => torch.nll_loss(x.log_softmax(1), t),
    py: "torch.nn.functional.nll_loss(x.log_softmax(1), t)",
    grad: true,
  },
  {
    name: "mse_loss",
    inputs: { a: r(4, 3), b: r(4, 3) },
    js: ({ a, b }) => torch.mse_loss(a, b),
    py: "torch.nn.functional.mse_loss(a, b)",
    grad: true,
  },
  {
    name: "embedding",
    inputs: { w: r(10, 4), i: ints(10, 2, 3) },
    js: ({ w, i }) => torch.embedding(w, i),
    py: "torch.nn.functional.embedding(i, w)",
    grad: true,
  },
  {
    name: "embedding padding_idx",
    inputs: { w: r(10, 4), i: torch.tensor([[0n, 2n, 0n, 5n]]) },
    js: ({ w, i }) => torch.embedding(w, i, 0),
    py: "torch.nn.functional.embedding(i, w, padding_idx=0)",
    grad: true,
  },
  {
    name: "layer_norm",
    inputs: { x: r(2, 3, 8), w: r(8), b: r(8) },
    js: ({ x, w, b }) => torch.layer_norm(x, [8], w, b, 1e-5),
    py: "torch.nn.functional.layer_norm(x, [8], w, b, 1e-5)",
    grad: true,
  },
  {
    name: "scaled_dot_product_attention causal",
    inputs: { q: r(2, 2, 5, 4), k: r(2, 2, 5, 4), v: r(2, 2, 5, 4) },
    js: ({ q, k, v }) => torch.scaled_dot_product_attention(q, k, v, { is_causal: true }),
    py: "torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)",
    grad: true,
  },
  {
    name: "scaled_dot_product_attention bool mask",
    inputs: { q: r(1, 2, 3, 4), k: r(1, 2, 6, 4), v: r(1, 2, 6, 4), m: torch.tensor([[true, true, false, true, true, true]]) },
    js: ({ q, k, v, m }) => torch.scaled_dot_product_attention(q, k, v, m),
    py: "torch.nn.functional.scaled_dot_product_attention(q, k, v, m)",
    grad: true,
  },
  // ---- selection
  {
    name: "where",
    inputs: { c: mask(3, 4), a: r(3, 4), b: r(4) },
    js: ({ c, a, b }) => torch.where(c, a, b),
    py: "torch.where(c, a, b)",
    grad: true,
  },
  {
    name: "where scalar other",
    inputs: { c: mask(5), a: r(5) },
    js: ({ c, a }) => torch.where(c, a, 0.0),
    py: "torch.where(c, a, 0.0)",
    grad: true,
  },
  {
    name: "masked_fill",
    inputs: { a: r(3, 4), m: mask(3, 4) },
    js: ({ a, m }) => a.masked_fill(m, -1),
    py: "a.masked_fill(m, -1)",
    grad: true,
  },
  {
    name: "masked_fill broadcast -inf",
    inputs: { a: r(2, 3, 3), m: torch.ones(3, 3, { dtype: torch.bool }).triu(1) },
    js: ({ a, m }) => a.masked_fill(m, -Infinity).softmax(-1),
    py: "a.masked_fill(m, float('-inf')).softmax(-1)",
    grad: true,
  },
  {
    name: "index_select",
    inputs: { a: r(5, 3), i: torch.tensor([4n, 0n, 4n]) },
    js: ({ a, i }) => a.index_select(0, i),
    py: "a.index_select(0, i)",
    grad: true,
  },
  { name: "gather", inputs: { a: r(3, 4), i: ints(4, 3, 2) }, js: ({ a, i }) => a.gather(1, i), py: "a.gather(1, i)", grad: true },
  // ---- joining and splitting
  { name: "cat", inputs: { a: r(2, 3), b: r(2, 1) }, js: ({ a, b }) => torch.cat([a, b], 1), py: "torch.cat([a, b], 1)", grad: true },
  { name: "stack", inputs: { a: r(2, 3), b: r(2, 3) }, js: ({ a, b }) => torch.stack([a, b]), py: "torch.stack([a, b])", grad: true },
  { name: "split", inputs: { a: r(5, 2) }, js: ({ a }) => a.split(2), py: "a.split(2)", grad: true },
  { name: "chunk", inputs: { a: r(2, 6) }, js: ({ a }) => a.chunk(3, 1), py: "a.chunk(3, 1)", grad: true },
  // ---- views
  { name: "view", inputs: { a: r(2, 6) }, js: ({ a }) => a.view(3, 4), py: "a.view(3, 4)", grad: true },
  { name: "view -1", inputs: { a: r(2, 6) }, js: ({ a }) => a.view([-1, 3]), py: "a.view(-1, 3)", grad: true },
  { name: "reshape of transpose", inputs: { a: r(3, 4) }, js: ({ a }) => a.t().reshape(2, 6), py: "a.t().reshape(2, 6)", grad: true },
  { name: "transpose", inputs: { a: r(2, 3, 4) }, js: ({ a }) => a.transpose(0, 2), py: "a.transpose(0, 2)", grad: true },
  { name: "permute", inputs: { a: r(2, 3, 4) }, js: ({ a }) => a.permute(2, 0, 1), py: "a.permute(2, 0, 1)", grad: true },
  { name: "expand", inputs: { a: r(3, 1) }, js: ({ a }) => a.expand(3, 4), py: "a.expand(3, 4)", grad: true },
  { name: "narrow", inputs: { a: r(4, 5) }, js: ({ a }) => a.narrow(1, 1, 3), py: "a.narrow(1, 1, 3)", grad: true },
  {
    name: "unsqueeze squeeze",
    inputs: { a: r(3, 1, 4) },
    js: ({ a }) => a.squeeze(1).unsqueeze(0),
    py: "a.squeeze(1).unsqueeze(0)",
    grad: true,
  },
  { name: "flatten", inputs: { a: r(2, 3, 4) }, js: ({ a }) => a.flatten(1), py: "a.flatten(1)", grad: true },
  { name: "select", inputs: { a: r(3, 4) }, js: ({ a }) => a.select(1, -1), py: "a.select(1, -1)", grad: true },
  { name: "repeat", inputs: { a: r(2, 3) }, js: ({ a }) => a.repeat(2, 1), py: "a.repeat(2, 1)", grad: true },
  { name: "tril", inputs: { a: r(4, 4) }, js: ({ a }) => a.tril(), py: "a.tril()", grad: true },
  // ---- in-place
  { name: "add_", inputs: { a: r(3, 4), b: r(4) }, js: ({ a, b }) => a.clone().add_(b), py: "a.clone().add_(b)", grad: true },
  { name: "mul_ scalar", inputs: { a: r(3) }, js: ({ a }) => a.clone().mul_(3), py: "a.clone().mul_(3)", grad: true },
  { name: "relu_", inputs: { a: r(6) }, js: ({ a }) => a.clone().relu_(), py: "a.clone().relu_()", grad: true },
  { name: "clamp_", inputs: { a: r(6) }, js: ({ a }) => a.clone().clamp_(-0.3, 0.3), py: "a.clone().clamp_(-0.3, 0.3)", grad: true },
  {
    name: "masked_fill_",
    inputs: { a: r(3, 4), m: mask(3, 4) },
    js: ({ a, m }) => a.clone().masked_fill_(m, 2),
    py: "a.clone().masked_fill_(m, 2)",
    grad: true,
  },
  {
    name: "in-place through a view",
    inputs: { a: r(3, 4) },
    js: ({ a }) => {
      const c = a.clone();
      c.narrow(1, 0, 2).mul_(2);
      return c;
    },
    py: "(lambda c: (c.narrow(1, 0, 2).mul_(2), c)[1])(a.clone())",
    grad: true,
  },
  { name: "zero_ then add_ on int", inputs: { a: ints(9, 4) }, js: ({ a }) => a.clone().zero_().add_(2), py: "a.clone().zero_().add_(2)" },
  // ---- convolution
  {
    name: "conv2d",
    inputs: { x: r(1, 2, 5, 5), w: r(3, 2, 3, 3), b: r(3) },
    js: ({ x, w, b }) => torch.conv2d(x, w, b, 1, 1),
    py: "torch.nn.functional.conv2d(x, w, b, 1, 1)",
    grad: true,
  },
];

function asList(o: Tensor | Tensor[]): Tensor[] {
  return Array.isArray(o) ? o : [o];
}

function withGrad(c: Case): Inputs {
  return Object.fromEntries(
    Object.entries(c.inputs).map(([k, v]) => [k, c.grad && v.is_floating_point() ? v.detach().clone().requires_grad_() : v]),
  );
}

// Each case's Python: its expression on the inputs, then for differentiable cases the gradients of
// sum(out * w) for random w drawn in Python.
function pythonOf(c: Case): string {
  return `g = torch.Generator().manual_seed(1234)
env = {k: (v.clone().requires_grad_(True) if ${c.grad ? "True" : "False"} and v.is_floating_point() else v) for k, v in inputs.items()}
env["torch"] = torch
o = eval(${JSON.stringify(c.py)}, env)
outs = list(o) if isinstance(o, (tuple, list)) else [o]
result = {"out": outs}
if ${c.grad ? "True" : "False"}:
    ws = [torch.randn(t.shape, generator=g, dtype=t.dtype) if t.requires_grad else None for t in outs]
    loss = sum((t * w).sum() for t, w in zip(outs, ws) if w is not None)
    keys = [k for k in inputs if env[k].requires_grad]
    result["w"] = ws
    result["grads"] = dict(zip(keys, torch.autograd.grad(loss, [env[k] for k in keys], allow_unused=True)))`;
}

const tol = { rtol: 1e-4, atol: 1e-5 };

function check(c: Case, expected: PyValue): void {
  const exp = expected as { out: Tensor[]; w?: (Tensor | null)[]; grads?: Record<string, Tensor | null> };
  const inputs = withGrad(c);
  const outs = asList(c.js(inputs));
  assert.equal(outs.length, exp.out.length, "number of outputs");
  outs.forEach((o, k) => {
    assert.equal(o.dtype.name, exp.out[k].dtype.name, `output ${k} dtype`);
    assertClose(o, exp.out[k], { ...tol, msg: `output ${k}` });
  });
  if (!c.grad) return;
  const ws = exp.w!;
  const keys = Object.keys(exp.grads!);
  assert.ok(keys.length > 0, "a gradient case needs a floating input");
  const loss = outs
    .map((o, k) => (ws[k] === null ? null : o.mul(ws[k] as Tensor).sum()))
    .filter((t): t is Tensor => t !== null)
    .reduce((p, q) => p.add(q));
  const grads = torch.autograd.grad(
    loss,
    keys.map((k) => inputs[k]),
    { allow_unused: true },
  );
  keys.forEach((k, j) => {
    const e = exp.grads![k];
    if (e === null) assert.equal(grads[j], null, `grad of ${k}`);
    else assertClose(grads[j]!, e, { ...tol, msg: `grad of ${k}` });
  });
}

const byName = new Map(cases.map((c) => [c.name, c]));
testAgainstPython(
  cases.map((c) => ({ name: c.name, inputs: c.inputs, py: pythonOf(c), check: (expected) => check(c, expected) })),
  {},
  (pc) => `${pc.name}: ${byName.get(pc.name)!.py}`,
);

test("the table covers at least 60 ops", () => {
  assert.ok(cases.length >= 60, `${cases.length} cases`);
});
