// F.linear's float32 CPU path through oneDNN (native/src/cpu_linear.cc): values and gradients
// against Python PyTorch's F.linear (computed in float64, so that neither MKL's nor oneDNN's
// rounding is the reference), which shapes take it, and that everything else is at::linear as
// PyTorch runs it (grad_fn names, autocast, errors).
import { test } from "node:test";
import assert from "node:assert/strict";
import { torch } from "../../src/index.js";
import type { Tensor } from "../../src/torch/tensor.js";
import { assertClose, runPython } from "../helpers/oracle.js";

const F = torch.nn.functional;
const ONEDNN = "torch::autograd::CppNode<tessera::OneDnnLinear>";
// Products over K = 256 of unit normals: float32 rounding of either library stays far below this.
const TOL = { rtol: 1e-5, atol: 2e-4 };

torch.manual_seed(0);
const x3 = torch.randn([4, 64, 256]); // 256 rows x 256 x 688: 2^23.4 multiply-adds, oneDNN's
const w = torch.randn([688, 256]);
const b = torch.randn([688]);
const g3 = torch.randn([4, 64, 688]);
const xs = torch.randn([3, 5, 16]); // 15 x 16 x 688 < 2^20: at::linear
const ws = torch.randn([688, 16]);
const xv = torch.randn([2, 256]); // 2 rows x 256 x 4096 = 2^21, but a matrix-vector product: at::linear
const wv = torch.randn([4096, 256]);

const PY = String.raw`
F = torch.nn.functional
def run(x, w, b, g, need=(True, True, True)):
    x = x.double().requires_grad_(need[0]); w = w.double().requires_grad_(need[1])
    b = None if b is None else b.double().requires_grad_(need[2])
    y = F.linear(x, w, b)
    y.backward(g.double())
    return [y, x.grad, w.grad, None if b is None else b.grad]
out["bias"] = run(x3, w, b, g3)
out["nobias"] = run(x3, w, None, g3)
out["t2d"] = run(x3.reshape(256, 256).t(), w, b, g3.reshape(256, 688))
out["frozen"] = run(x3, w, None, g3, (True, False, False))
x = x3.double().requires_grad_(); ww = w.double().requires_grad_()
gx, = torch.autograd.grad(F.linear(x, ww).pow(2).sum(), x, create_graph=True)
out["double"] = torch.autograd.grad(gx.pow(2).sum(), ww)[0]
x = x3.detach().requires_grad_(); s = xs.detach().requires_grad_()
out["names"] = {
    "2d": F.linear(x.reshape(256, 256), w).grad_fn.name(),
    "2d_bias": F.linear(x.reshape(256, 256), w, b).grad_fn.name(),
    "3d": F.linear(x, w).grad_fn.name(),
    "3d_bias": F.linear(x, w, b).grad_fn.name(),
    "small_3d": F.linear(s, ws).grad_fn.name(),
    "small_2d_bias": F.linear(s.reshape(15, 16), ws, b).grad_fn.name(),
    "two_rows": F.linear(xv.requires_grad_(), wv).grad_fn.name(),
}
with torch.autocast("cpu", dtype=torch.bfloat16):
    out["autocast"] = F.linear(x3, w, b)
try:
    F.linear(x3, w[:, :100])
except RuntimeError as e:
    out["error"] = str(e)
`;
const expected = runPython(PY, { x3, w, b, g3, xs, ws, xv, wv });
const E = (k: string) => expected[k] as (Tensor | null)[];

function run(x: Tensor, bias: Tensor | null, g: Tensor, need = [true, true, true]): (Tensor | null)[] {
  const xx = x.detach().requires_grad_(need[0]);
  const ww = w.detach().requires_grad_(need[1]);
  const bb = bias === null ? null : bias.detach().requires_grad_(need[2]);
  const y = F.linear(xx, ww, bb);
  assert.equal(y.grad_fn?.name(), ONEDNN);
  y.backward(g);
  return [y, xx.grad, ww.grad, bb === null ? null : bb.grad];
}

function assertAll(got: (Tensor | null)[], want: (Tensor | null)[], what: string): void {
  got.forEach((t, i) => {
    if (want[i] === null) assert.equal(t, null, `${what}[${i}] should have no gradient`);
    else assertClose(t!, want[i]!.float(), { ...TOL, msg: `${what}[${i}]` });
  });
}

test("a float32 CPU linear of 2^20 multiply-adds and 4 rows or more runs in oneDNN, with PyTorch's values and gradients", () => {
  assertAll(run(x3, b, g3), E("bias"), "with bias");
  assertAll(run(x3, null, g3), E("nobias"), "without bias");
  // A transposed (non-contiguous) 2-D input.
  assertAll(run(x3.reshape(256, 256).t(), b, g3.reshape(256, 688)), E("t2d"), "transposed input");
});

test("a frozen weight gets no gradient, the input does", () => {
  assertAll(run(x3, null, g3, [true, false, false]), E("frozen"), "frozen weight");
});

test("with create_graph the gradients can be differentiated again", () => {
  const x = x3.detach().requires_grad_();
  const ww = w.detach().requires_grad_();
  const [gx] = torch.autograd.grad(F.linear(x, ww).pow(2).sum(), x, { create_graph: true });
  const [gw] = torch.autograd.grad(gx!.pow(2).sum(), ww);
  const want = expected.double as Tensor;
  // Entries near 1e7 summed from 2^16 terms: float32 rounding relative to the largest.
  assertClose(gw!, want.float(), { rtol: 1e-5, atol: 1e-5 * (want.abs().max().item() as number) });
});

test("without a graph to record (no_grad, inputs that need no gradient) it returns a plain tensor", () => {
  const y = torch.no_grad(() => F.linear(x3.detach().requires_grad_(), w, b));
  assert.equal(y.grad_fn, null);
  assert.equal(y.requires_grad, false);
  assertClose(y, (E("bias")[0] as Tensor).float(), TOL);
  assert.equal(F.linear(x3, w, b).grad_fn, null);
});

test("small shapes, autocast and torch.backends.mkldnn.enabled = false run at::linear, as PyTorch does", () => {
  const names = expected.names as Record<string, string>;
  const xr = x3.detach().requires_grad_();
  assert.equal(F.linear(xs.detach().requires_grad_(), ws).grad_fn?.name(), names.small_3d);
  assert.equal(F.linear(xs.detach().requires_grad_().reshape(15, 16), ws, b).grad_fn?.name(), names.small_2d_bias);
  assert.equal(F.linear(xv.detach().requires_grad_(), wv).grad_fn?.name(), names.two_rows);
  assert.equal(torch.backends.mkldnn.enabled, true);
  torch.backends.mkldnn.enabled = false;
  try {
    assert.equal(torch.backends.mkldnn.enabled, false);
    assert.equal(F.linear(xr, w).grad_fn?.name(), names["3d"]);
    assert.equal(F.linear(xr, w, b).grad_fn?.name(), names["3d_bias"]);
    assert.equal(F.linear(xr.reshape(256, 256), w).grad_fn?.name(), names["2d"]);
    assert.equal(F.linear(xr.reshape(256, 256), w, b).grad_fn?.name(), names["2d_bias"]);
  } finally {
    torch.backends.mkldnn.enabled = true;
  }
  assert.equal(F.linear(xr, w).grad_fn?.name(), ONEDNN);
  assert.equal(
    torch.backends.mkldnn.flags({ enabled: false }, () => F.linear(xr, w).grad_fn?.name()),
    names["3d"],
  );
  assert.equal(torch.backends.mkldnn.enabled, true, "flags() restores the setting");
  const y = torch.autocast({ device_type: "cpu", dtype: torch.bfloat16 }, () => F.linear(x3, w, b));
  assert.equal(y.dtype, torch.bfloat16);
  assertClose(y.float(), (expected.autocast as Tensor).float(), { rtol: 0, atol: 0 });
  assert.equal(F.linear(x3.double(), w.double()).dtype, torch.float64);
});

test("bad shapes and settings get PyTorch's errors", () => {
  assert.throws(
    () => F.linear(x3, w.narrow(1, 0, 100)),
    (e: Error) => e.message.includes(expected.error as string),
  );
  assert.throws(() => torch.backends.mkldnn.flags({ enabled: false }, undefined as never), /expected a callback/);
  assert.throws(() => {
    torch.backends.mkldnn.enabled = "no" as never;
  }, TypeError);
  assert.equal(torch.backends.mkldnn.is_available(), true);
});
