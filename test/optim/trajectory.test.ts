// Each optimizer with each lr scheduler follows Python's parameter and lr trajectory for 30 steps.
import { test } from "node:test";
import assert from "node:assert/strict";
import { torch } from "../../src/index.js";
import { assertClose, runPython, type PyValue } from "../helpers/oracle.js";

const { nn, optim } = torch;
type Tensor = torch.Tensor;
const STEPS = 30;

const OPTIMIZERS: Record<string, [string, (p: Tensor[]) => torch.optim.Optimizer]> = {
  sgd_momentum: [
    "torch.optim.SGD(ps, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)",
    (p) => new optim.SGD(p, { lr: 0.05, momentum: 0.9, dampening: 0.1, weight_decay: 0.01 }),
  ],
  sgd_nesterov: [
    "torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, maximize=False)",
    (p) => new optim.SGD(p, { lr: 0.05, momentum: 0.9, nesterov: true }),
  ],
  adam: ["torch.optim.Adam(ps, lr=0.02, weight_decay=0.01)", (p) => new optim.Adam(p, { lr: 0.02, weight_decay: 0.01 })],
  adam_amsgrad: [
    "torch.optim.Adam(ps, lr=0.02, betas=(0.8, 0.99), amsgrad=True)",
    (p) => new optim.Adam(p, { lr: 0.02, betas: [0.8, 0.99], amsgrad: true }),
  ],
  adamw: ["torch.optim.AdamW(ps, lr=0.02, weight_decay=0.1)", (p) => new optim.AdamW(p, { lr: 0.02, weight_decay: 0.1 })],
};

const S = optim.lr_scheduler;
const SCHEDULERS: Record<string, [string, (o: torch.optim.Optimizer) => torch.optim.lr_scheduler.LRScheduler]> = {
  lambda: ["S.LambdaLR(o, lambda e: 0.95 ** e)", (o) => new S.LambdaLR(o, (e) => 0.95 ** e)],
  step: ["S.StepLR(o, 5, gamma=0.5)", (o) => new S.StepLR(o, 5, 0.5)],
  linear: ["S.LinearLR(o, start_factor=0.25, total_iters=10)", (o) => new S.LinearLR(o, { start_factor: 0.25, total_iters: 10 })],
  cosine: ["S.CosineAnnealingLR(o, T_max=10, eta_min=1e-3)", (o) => new S.CosineAnnealingLR(o, 10, 1e-3)],
  sequential: [
    "S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=5), S.CosineAnnealingLR(o, T_max=25)], milestones=[5])",
    (o) => new S.SequentialLR(o, [new S.LinearLR(o, { start_factor: 0.1, total_iters: 5 }), new S.CosineAnnealingLR(o, 25)], [5]),
  ],
};

// A fixed loss with non-trivial gradients, computed identically on both sides.
function loss(w1: Tensor, w2: Tensor, c1: Tensor, t1: Tensor): Tensor {
  return c1.mul(w1.sub(t1).pow(2)).sum().add(w2.sin().mul(3).sum());
}

function run(optName: string, schedName: string, init: Tensor[], c1: Tensor, t1: Tensor): { params: Tensor[]; lrs: number[] } {
  const ps = init.map((t) => new nn.Parameter(t.clone()));
  const o = OPTIMIZERS[optName][1](ps);
  const s = SCHEDULERS[schedName][1](o);
  const lrs: number[] = [];
  for (let i = 0; i < STEPS; i++) {
    o.zero_grad();
    loss(ps[0], ps[1], c1, t1).backward();
    o.step();
    s.step();
    lrs.push(s.get_last_lr()[0]);
  }
  return { params: ps, lrs };
}

test("optimizers x schedulers follow Python's trajectories for 30 steps", () => {
  torch.manual_seed(0);
  const init = [torch.randn(3, 4), torch.randn(5)];
  const c1 = torch.rand(3, 4).add(0.5);
  const t1 = torch.randn(3, 4);
  const py = runPython(
    `
S = torch.optim.lr_scheduler
OPT = {${Object.entries(OPTIMIZERS)
      .map(([k, [p]]) => `"${k}": lambda ps: ${p}`)
      .join(", ")}}
SCH = {${Object.entries(SCHEDULERS)
      .map(([k, [p]]) => `"${k}": lambda o: ${p}`)
      .join(", ")}}
for on, mk in OPT.items():
    for sn, ms in SCH.items():
        ps = [torch.nn.Parameter(t.clone()) for t in init]
        o = mk(ps); s = ms(o); lrs = []
        for i in range(${STEPS}):
            o.zero_grad()
            ((c1 * (ps[0] - t1).pow(2)).sum() + (ps[1].sin() * 3).sum()).backward()
            o.step(); s.step(); lrs.append(s.get_last_lr()[0])
        out[on + "/" + sn] = {"params": ps, "lrs": lrs}
`,
    { init, c1, t1 },
  );
  for (const optName of Object.keys(OPTIMIZERS)) {
    for (const schedName of Object.keys(SCHEDULERS)) {
      const key = `${optName}/${schedName}`;
      const expected = py[key] as { params: Tensor[]; lrs: number[] };
      const got = run(optName, schedName, init, c1, t1);
      got.lrs.forEach((lr, i) =>
        assert.ok(
          Math.abs(lr - expected.lrs[i]) <= 1e-12 * Math.abs(expected.lrs[i]),
          `${key}: lr at step ${i}: ${lr} vs ${expected.lrs[i]}`,
        ),
      );
      got.params.forEach((p, i) => assertClose(p, expected.params[i], { rtol: 1e-6, atol: 1e-7, msg: `${key} param ${i}` }));
    }
  }
});

test("optimizer state_dict has PyTorch's layout and resumes exactly", () => {
  torch.manual_seed(1);
  const init = [torch.randn(3, 4), torch.randn(5)];
  const c1 = torch.rand(3, 4).add(0.5);
  const t1 = torch.randn(3, 4);
  const make = (): [Tensor[], torch.optim.Optimizer] => {
    const ps = init.map((t) => new nn.Parameter(t.clone()));
    return [ps, new optim.AdamW([{ params: [ps[0]] }, { params: [ps[1]], lr: 0.005 }], { lr: 0.01, amsgrad: true })];
  };
  const stepN = (ps: Tensor[], o: torch.optim.Optimizer, n: number): void => {
    for (let i = 0; i < n; i++) {
      o.zero_grad();
      loss(ps[0], ps[1], c1, t1).backward();
      o.step();
    }
  };
  const [ps, o] = make();
  stepN(ps, o, 5);
  const sd = o.state_dict();
  const py = runPython(
    `
ps = [torch.nn.Parameter(t.clone()) for t in init]
o = torch.optim.AdamW([{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.005}], lr=0.01, amsgrad=True)
for i in range(5):
    o.zero_grad(); ((c1 * (ps[0] - t1).pow(2)).sum() + (ps[1].sin() * 3).sum()).backward(); o.step()
sd = o.state_dict()
out["group_keys"] = [sorted(g.keys()) for g in sd["param_groups"]]
out["params"] = [g["params"] for g in sd["param_groups"]]
out["state_keys"] = {str(k): sorted(v.keys()) for k, v in sd["state"].items()}
out["step"] = float(sd["state"][1]["step"])
out["exp_avg_sq"] = sd["state"][1]["exp_avg_sq"]
`,
    { init, c1, t1 },
  );
  assert.deepEqual(
    sd.param_groups.map((g) => Object.keys(g).sort()),
    py.group_keys,
  );
  assert.deepEqual(
    sd.param_groups.map((g) => g.params),
    py.params,
  );
  assert.deepEqual(Object.fromEntries(Object.entries(sd.state).map(([k, v]) => [k, Object.keys(v).sort()])), py.state_keys);
  assert.equal((sd.state[1].step as Tensor).item(), py.step);
  assertClose(sd.state[1].exp_avg_sq as Tensor, py.exp_avg_sq as Tensor, { rtol: 1e-6 });

  // Resuming from a saved copy of the state continues exactly like the uninterrupted optimizer.
  const saved = {
    param_groups: sd.param_groups,
    state: Object.fromEntries(
      Object.entries(sd.state).map(([k, st]) => [
        k,
        Object.fromEntries(Object.entries(st).map(([n, v]) => [n, v instanceof torch.Tensor ? v.clone() : v])),
      ]),
    ),
  };
  const [ps2, o2] = make();
  torch.no_grad(() => ps.forEach((p, i) => ps2[i].copy_(p)));
  o2.load_state_dict(saved);
  stepN(ps, o, 3);
  stepN(ps2, o2, 3);
  ps.forEach((p, i) => assertClose(ps2[i], p, { rtol: 0, atol: 0 }));
  assert.throws(() => o2.load_state_dict({ state: {}, param_groups: [] }), /different number of parameter groups/);
});

test("scheduler state_dict round-trips; optimizer input errors are clear", () => {
  const p = new nn.Parameter(torch.zeros(2));
  const o = new optim.SGD([p], { lr: 0.1 });
  const s = new S.StepLR(o, 2, 0.5);
  for (let i = 0; i < 3; i++) s.step();
  const sd = s.state_dict();
  assert.equal(sd.last_epoch, 3);
  const s2 = new S.StepLR(new optim.SGD([p], { lr: 0.1 }), 2, 0.5);
  s2.load_state_dict(sd);
  assert.deepEqual(s2.get_last_lr(), s.get_last_lr());
  assert.throws(() => new optim.SGD([], { lr: 0.1 }), /empty parameter list/);
  assert.throws(() => new optim.SGD([p], { lr: -1 }), /Invalid learning rate: -1/);
  assert.throws(() => new optim.SGD([p], { nesterov: true }), /Nesterov momentum requires a momentum and zero dampening/);
  assert.throws(() => new optim.Adam([p.mul(2)]), /can't optimize a non-leaf Tensor/);
  assert.throws(() => new optim.Adam([{ params: [p] }, { params: [p] }]), /more than one parameter group/);
});

test("HF get_linear/cosine_schedule_with_warmup follow transformers' lr values", async () => {
  const { get_linear_schedule_with_warmup, get_cosine_schedule_with_warmup } = await import("../../src/transformers/optimization.js");
  const lrs = (mk: (o: torch.optim.Optimizer) => torch.optim.lr_scheduler.LRScheduler): number[] => {
    const o = new optim.AdamW([new nn.Parameter(torch.zeros(1))], { lr: 0.1 });
    const s = mk(o);
    return Array.from({ length: 25 }, () => {
      s.step();
      return s.get_last_lr()[0];
    });
  };
  const py = runPython(`
from transformers import get_linear_schedule_with_warmup as lin, get_cosine_schedule_with_warmup as cos
def lrs(mk):
    o = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=0.1); s = mk(o); r = []
    for _ in range(25):
        s.step(); r.append(s.get_last_lr()[0])
    return r
out["lin"] = lrs(lambda o: lin(o, 5, 20)); out["cos"] = lrs(lambda o: cos(o, 4, 20, 0.75))
`);
  const close = (a: number[], e: number[], what: string): void =>
    a.forEach((v, i) => assert.ok(Math.abs(v - e[i]) <= 1e-12 + 1e-12 * Math.abs(e[i]), `${what} step ${i}: ${v} vs ${e[i]}`));
  close(
    lrs((o) => get_linear_schedule_with_warmup(o, 5, 20)),
    py.lin as number[],
    "linear",
  );
  close(
    lrs((o) => get_cosine_schedule_with_warmup(o, 4, 20, 0.75)),
    py.cos as number[],
    "cosine",
  );
});
