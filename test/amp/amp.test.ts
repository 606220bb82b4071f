// autocast scopes and GradScaler against Python's.
import { test } from "node:test";
import assert from "node:assert/strict";
import { torch } from "../../src/index.js";
import { assertClose, runPython } from "../helpers/oracle.js";

const { nn } = torch;
type Tensor = torch.Tensor;
const F = nn.functional;

test("autocast bf16 forward (Linear+GELU+Linear+softmax) matches Python's, dtypes included", () => {
  torch.manual_seed(0);
  const fc1 = new nn.Linear(8, 16);
  const fc2 = new nn.Linear(16, 4);
  const x = torch.randn(5, 8);
  const got = torch.autocast({ device_type: "cpu", dtype: torch.bfloat16 }, () => {
    const h = fc1.forward(x);
    const a = F.gelu(h);
    const z = fc2.forward(a);
    return { h, a, z, p: F.softmax(z, -1) };
  });
  assert.equal(torch.amp.is_autocast_enabled("cpu"), false, "the scope restores the previous state");
  const outside = fc1.forward(x);
  assert.equal(outside.dtype, torch.float32);
  const py = runPython(
    `
torch.manual_seed(0)
fc1 = torch.nn.Linear(8, 16); fc2 = torch.nn.Linear(16, 4)
with torch.autocast("cpu", dtype=torch.bfloat16):
    h = fc1(x); a = torch.nn.functional.gelu(h); z = fc2(a); p = torch.softmax(z, -1)
out.update(h=h, a=a, z=z, p=p, dtypes=[str(t.dtype) for t in (h, a, z, p)])
`,
    { x },
  );
  assert.deepEqual(
    [got.h, got.a, got.z, got.p].map((t) => String(t.dtype)),
    py.dtypes,
  );
  for (const k of ["h", "a", "z", "p"] as const) assertClose(got[k], py[k] as Tensor, { rtol: 1e-2, atol: 1e-2, msg: k });
  // Nested scopes: an inner disabled scope runs in float32, and the outer state comes back.
  torch.autocast("cpu", { dtype: torch.bfloat16 }, () => {
    assert.equal(torch.autocast("cpu", { enabled: false }, () => fc1.forward(x)).dtype, torch.float32);
    assert.equal(fc1.forward(x).dtype, torch.bfloat16);
  });
  assert.throws(() => torch.autocast({ device_type: "nope" }, () => 0), /unsupported autocast device_type 'nope'/);
});

test("GradScaler skips steps with inf grads and backs off / grows the scale like Python", () => {
  torch.manual_seed(3);
  const w0 = torch.randn(4);
  const x = torch.randn(4);
  // Steps 2 and 5 inject an inf gradient.
  const infSteps = [2, 5];
  const w = new nn.Parameter(w0.clone());
  const opt = new torch.optim.SGD([w], { lr: 0.1 });
  const scaler = new torch.amp.GradScaler("cpu", { init_scale: 1024, growth_interval: 2 });
  const scales: number[] = [];
  const trajectory: Tensor[] = [];
  for (let i = 0; i < 7; i++) {
    opt.zero_grad();
    const loss = w.mul(x).sum().pow(2);
    scaler.scale(loss).backward();
    if (infSteps.includes(i)) torch.no_grad(() => (w.grad as Tensor).index_fill_(0, torch.tensor([1], { dtype: torch.int64 }), Infinity));
    scaler.step(opt);
    scaler.update();
    scales.push(scaler.get_scale());
    trajectory.push(w.detach().clone());
  }
  const py = runPython(
    `
w = torch.nn.Parameter(w0.clone()); opt = torch.optim.SGD([w], lr=0.1)
scaler = torch.amp.GradScaler("cpu", init_scale=1024, growth_interval=2)
scales = []; traj = []
for i in range(7):
    opt.zero_grad()
    scaler.scale((w * x).sum().pow(2)).backward()
    if i in (2, 5):
        with torch.no_grad(): w.grad[1] = float("inf")
    scaler.step(opt); scaler.update()
    scales.append(scaler.get_scale()); traj.append(w.detach().clone())
out.update(scales=scales, traj=traj, sd=scaler.state_dict())
`,
    { w0, x },
  );
  assert.deepEqual(scales, py.scales);
  trajectory.forEach((t, i) => assertClose(t, (py.traj as Tensor[])[i], { rtol: 1e-6, msg: `step ${i}` }));
  assert.deepEqual(scaler.state_dict(), py.sd);
  scaler.scale(w.sum()).backward();
  scaler.unscale_(opt);
  assert.throws(() => scaler.unscale_(opt), /unscale_\(\) has already been called on this optimizer since the last update\(\)/);
});
