// nn modules, functional, init and clip_grad_norm_ against Python PyTorch (one Python run).
import { test } from "node:test";
import assert from "node:assert/strict";
import { torch } from "../../src/index.js";
import { assertClose, runPython, type PyValue } from "../helpers/oracle.js";

const { nn } = torch;
const F = nn.functional;
type Tensor = torch.Tensor;

class Net extends nn.Module {
  emb = new nn.Embedding(10, 6, { padding_idx: 1 });
  fc1 = new nn.Linear(6, 8);
  act = new nn.GELU("tanh");
  norm = new nn.LayerNorm(8);
  rms = new nn.RMSNorm(8, { eps: 1e-6 });
  silu = new nn.SiLU();
  drop = new nn.Dropout(0.3);
  fc2 = new nn.Linear(8, 5, false);

  override forward(ids: Tensor): Tensor {
    const h = this.act.forward(this.fc1.forward(this.emb.forward(ids)));
    return this.fc2.forward(this.drop.forward(this.silu.forward(this.rms.forward(this.norm.forward(h)))));
  }
}

const PY_NET = `
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(10, 6, padding_idx=1)
        self.fc1 = torch.nn.Linear(6, 8)
        self.act = torch.nn.GELU("tanh")
        self.norm = torch.nn.LayerNorm(8)
        self.rms = torch.nn.RMSNorm(8, eps=1e-6)
        self.silu = torch.nn.SiLU()
        self.drop = torch.nn.Dropout(0.3)
        self.fc2 = torch.nn.Linear(8, 5, bias=False)
    def forward(self, ids):
        return self.fc2(self.drop(self.silu(self.rms(self.norm(self.act(self.fc1(self.emb(ids))))))))
`;

test("modules, losses, functional and init match Python (seeded weights, outputs, gradients)", () => {
  const ids = torch.tensor([[1, 2, 3, 9], [4, 1, 0, 7]], { dtype: torch.int64 });
  const target = torch.tensor([[0, 4, -100, 2], [3, 1, 1, 0]], { dtype: torch.int64 });
  const classWeight = torch.tensor([1.0, 2.0, 0.5, 1.5, 1.0]);
  torch.manual_seed(0);
  const net = new Net();
  net.eval();
  const logits = net.forward(ids);
  const ce = new nn.CrossEntropyLoss({ weight: classWeight, ignore_index: -100, label_smoothing: 0.1 }).forward(logits.view(-1, 5), target.view(-1));
  const mse = new nn.MSELoss({ reduction: "sum" }).forward(logits, torch.zeros(2, 4, 5).add(0.5));
  const nll = F.nll_loss(F.log_softmax(logits.view(-1, 5), -1), target.view(-1), { reduction: "sum" });
  ce.add(mse.mul(0.01)).add(nll.mul(0.1)).backward();
  const grads = Object.fromEntries([...net.named_parameters()].map(([k, p]) => [k, p.grad as Tensor]));

  torch.manual_seed(7);
  const q = torch.randn(2, 4, 5, 8);
  const k = torch.randn(2, 2, 5, 8);
  const v = torch.randn(2, 2, 5, 8);
  const sdpa = F.scaled_dot_product_attention(q, k, v, { is_causal: true, enable_gqa: true, scale: 0.3 });
  const mask = torch.randn(5, 5).gt(0);
  const sdpaMask = F.scaled_dot_product_attention(q, k.repeat_interleave(2, 1), v.repeat_interleave(2, 1), { attn_mask: mask });
  const padded = F.pad(q.index([0, 0]), [1, 2], "constant", 3.0);

  torch.manual_seed(11);
  const w = torch.empty(6, 5);
  const inits: Tensor[] = [];
  for (const f of [
    (t: Tensor) => nn.init.kaiming_normal_(t, { mode: "fan_out", nonlinearity: "relu" }),
    (t: Tensor) => nn.init.kaiming_uniform_(t),
    (t: Tensor) => nn.init.xavier_uniform_(t, nn.init.calculate_gain("tanh")),
    (t: Tensor) => nn.init.xavier_normal_(t),
    (t: Tensor) => nn.init.trunc_normal_(t, { std: 0.02 }),
    (t: Tensor) => nn.init.trunc_normal_(t, { mean: 0.5, std: 1.0, a: 0.0, b: 0.6 }),
    (t: Tensor) => nn.init.normal_(t, 1.0, 0.5),
  ]) inits.push(f(w).clone());

  const py = runPython(
    `${PY_NET}
F = torch.nn.functional
torch.manual_seed(0)
net = Net(); net.eval()
out["init"] = {k: v.detach().clone() for k, v in net.state_dict().items()}
logits = net(ids)
ce = torch.nn.CrossEntropyLoss(weight=classWeight, ignore_index=-100, label_smoothing=0.1)(logits.view(-1, 5), target.view(-1))
mse = torch.nn.MSELoss(reduction="sum")(logits, torch.zeros(2, 4, 5) + 0.5)
nll = F.nll_loss(F.log_softmax(logits.view(-1, 5), -1), target.view(-1), reduction="sum")
(ce + mse * 0.01 + nll * 0.1).backward()
out.update(logits=logits, ce=ce, mse=mse, nll=nll, grads={k: p.grad for k, p in net.named_parameters()})
out["names"] = [k for k, _ in net.named_parameters()]
torch.manual_seed(7)
q = torch.randn(2, 4, 5, 8); k = torch.randn(2, 2, 5, 8); v = torch.randn(2, 2, 5, 8)
out["sdpa"] = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True, scale=0.3)
mask = torch.randn(5, 5) > 0
out["sdpa_mask"] = F.scaled_dot_product_attention(q, k.repeat_interleave(2, 1), v.repeat_interleave(2, 1), attn_mask=mask)
out["pad"] = F.pad(q[0, 0], [1, 2], "constant", 3.0)
torch.manual_seed(11)
w = torch.empty(6, 5); I = torch.nn.init; inits = []
for f in [lambda t: I.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"), lambda t: I.kaiming_uniform_(t),
          lambda t: I.xavier_uniform_(t, I.calculate_gain("tanh")), lambda t: I.xavier_normal_(t),
          lambda t: I.trunc_normal_(t, std=0.02), lambda t: I.trunc_normal_(t, mean=0.5, std=1.0, a=0.0, b=0.6),
          lambda t: I.normal_(t, 1.0, 0.5)]:
    inits.append(f(w).clone())
out["inits"] = inits
`,
    { ids, target, classWeight },
  );
  const exact = { rtol: 0, atol: 0 };
  const init = py.init as Record<string, Tensor>;
  const sd = net.state_dict();
  assert.deepEqual(Object.keys(sd), Object.keys(init));
  for (const key of Object.keys(init)) assertClose(sd[key].detach(), init[key], { ...exact, msg: `initial ${key}` });
  assert.deepEqual(Object.keys(grads), py.names);
  assertClose(logits, py.logits as Tensor, { msg: "logits" });
  for (const name of ["ce", "mse", "nll"] as const) assertClose({ ce, mse, nll }[name], py[name] as Tensor, { msg: name });
  const pyGrads = py.grads as Record<string, Tensor>;
  for (const key of Object.keys(pyGrads)) assertClose(grads[key], pyGrads[key], { rtol: 1e-4, atol: 1e-6, msg: `grad ${key}` });
  assertClose(sdpa, py.sdpa as Tensor, { msg: "sdpa gqa causal" });
  assertClose(sdpaMask, py.sdpa_mask as Tensor, { msg: "sdpa mask" });
  assertClose(padded, py.pad as Tensor, exact);
  (py.inits as Tensor[]).forEach((e, i) => assertClose(inits[i], e, { rtol: 1e-6, atol: 1e-7, msg: `init fn ${i}` }));
});

test("clip_grad_norm_ returns Python's total norm and clips like it", () => {
  torch.manual_seed(5);
  const a = new nn.Parameter(torch.randn(4, 3));
  const b = new nn.Parameter(torch.randn(7));
  const ga = torch.randn(4, 3).mul(3);
  const gb = torch.randn(7);
  const results: Record<string, PyValue> = {};
  for (const [name, maxNorm, normType] of [["l2", 1.0, 2.0], ["inf", 0.5, "inf"], ["l1_noclip", 1e6, 1.0]] as const) {
    a.grad = ga.clone();
    b.grad = gb.clone();
    const total = nn.utils.clip_grad_norm_([a, b], maxNorm, normType);
    results[name] = [total, (a.grad as Tensor).clone(), (b.grad as Tensor).clone()];
  }
  const py = runPython(
    `
a = torch.nn.Parameter(torch.zeros(4, 3)); b = torch.nn.Parameter(torch.zeros(7))
for name, mx, nt in [("l2", 1.0, 2.0), ("inf", 0.5, "inf"), ("l1_noclip", 1e6, 1.0)]:
    a.grad = ga.clone(); b.grad = gb.clone()
    total = torch.nn.utils.clip_grad_norm_([a, b], mx, nt)
    out[name] = [total, a.grad.clone(), b.grad.clone()]
`,
    { ga, gb },
  );
  for (const name of Object.keys(results)) {
    (results[name] as Tensor[]).forEach((t, i) => assertClose(t, (py[name] as Tensor[])[i], { rtol: 1e-6, msg: `${name}[${i}]` }));
  }
});

test("load_state_dict names size mismatches and missing/unexpected keys like PyTorch", () => {
  class M extends nn.Module {
    fc = new nn.Linear(3, 3);
  }
  const m = new M();
  const bad = { "fc.weight": torch.zeros(2, 3), "fc.bias": torch.zeros(3) };
  assert.throws(
    () => m.load_state_dict(bad),
    (e: Error) => e.message === "Error(s) in loading state_dict for M:\n\tsize mismatch for fc.weight: copying a param with shape torch.Size([2, 3]) from checkpoint, the shape in current model is torch.Size([3, 3]).",
  );
  const partial = { "fc.weight": torch.ones(3, 3), extra: torch.zeros(1) };
  assert.throws(
    () => m.load_state_dict(partial),
    (e: Error) => e.message === 'Error(s) in loading state_dict for M:\n\tMissing key(s) in state_dict: "fc.bias". \n\tUnexpected key(s) in state_dict: "extra". ',
  );
  assert.deepEqual(m.load_state_dict(partial, false), { missing_keys: ["fc.bias"], unexpected_keys: ["extra"] });
  assertClose(m.fc.weight, torch.ones(3, 3), { rtol: 0, atol: 0 });
});

test("Module plumbing: hooks, registration order, buffers, containers, to(), modes", () => {
  class Block extends nn.Module {
    layers = new nn.ModuleList([new nn.Linear(2, 2), new nn.ReLU()]);
    heads = new nn.ModuleDict({ b: new nn.Linear(2, 1), a: new nn.Linear(2, 1) });
    scale = new nn.Parameter(torch.ones(1));
    plain = torch.ones(1); // a plain tensor attribute is not registered, as in PyTorch
    constructor() {
      super();
      this.register_buffer("running", torch.zeros(2));
      this.register_buffer("tmp", torch.zeros(1), false);
    }
    override forward(x: Tensor): Tensor {
      for (const l of this.layers) x = l.forward(x) as Tensor;
      return this.heads.get("a").forward(x).mul(this.scale);
    }
  }
  const b = new Block();
  assert.deepEqual([...b.named_parameters()].map(([k]) => k), ["scale", "layers.0.weight", "layers.0.bias", "heads.b.weight", "heads.b.bias", "heads.a.weight", "heads.a.bias"]);
  assert.deepEqual(Object.keys(b.state_dict()), ["scale", "running", "layers.0.weight", "layers.0.bias", "heads.b.weight", "heads.b.bias", "heads.a.weight", "heads.a.bias"]);
  assert.deepEqual([...b.named_buffers()].map(([k]) => k), ["running", "tmp"]);
  assert.deepEqual([...b.named_modules()].map(([k]) => k), ["", "layers", "layers.0", "layers.1", "heads", "heads.b", "heads.a"]);
  assert.ok(b.layers[0] instanceof nn.Linear && b.layers.at(-1) instanceof nn.ReLU);
  assert.ok(b.scale instanceof nn.Parameter && b.scale instanceof torch.Tensor);

  const x = torch.ones(3, 2);
  const seen: string[] = [];
  const pre = b.register_forward_pre_hook((_m, args) => {
    seen.push("pre");
    return [(args[0] as Tensor).mul(0)];
  });
  const post = b.register_forward_hook((_m, _args, out) => {
    seen.push("post");
    return (out as Tensor).add(100);
  });
  const y = b.forward(x);
  assert.deepEqual(seen, ["pre", "post"]);
  assertClose(y, b.heads.get("a").forward(b.layers[1].forward(b.layers[0].forward(torch.zeros(3, 2))) as Tensor).mul(b.scale).add(100));
  pre.remove();
  post.remove();
  assertClose(b.forward(x), b.heads.get("a").forward(b.layers[1].forward(b.layers[0].forward(x)) as Tensor).mul(b.scale));
  assert.equal(seen.length, 2, "removed hooks no longer run");

  const w = b.layers[0].weight as Tensor;
  b.to(torch.float64);
  assert.equal(b.layers[0].weight, w, "to() keeps the Parameter objects");
  assert.equal(w.dtype, torch.float64);
  assert.equal((b as unknown as { running: Tensor }).running.dtype, torch.float64);
  b.eval();
  assert.equal(b.layers[1].training, false);
  b.train();
  assert.equal(b.heads.get("a").training, true);
  assert.throws(() => b.to(torch.int64), /only accepts floating point or complex dtypes/);
  assert.throws(() => b.register_buffer("a.b", null), /can't contain "."/);
  assert.throws(() => new nn.Module().forward(x), /missing the required "forward" function/);
  assert.match(String(new nn.Sequential(new nn.Linear(2, 3), new nn.GELU())), /Sequential\(\n {2}\(0\): Linear\(in_features=2, out_features=3, bias=True\)\n {2}\(1\): GELU\(approximate='none'\)\n\)/);

  b.forward(x.double()).sum().backward();
  b.zero_grad();
  assert.equal(b.scale.grad, null);
});

test("layers and functional name a bad size or weight argument instead of failing inside", () => {
  assert.throws(() => new nn.Linear("4" as never, 2), { name: "TypeError", message: "Linear: argument 'in_features' must be int, not string" });
  assert.throws(() => new nn.Linear(4, 2.5), { name: "TypeError", message: "Linear: argument 'out_features' must be int, not float" });
  assert.throws(() => new (nn.Embedding as new (...a: unknown[]) => unknown)(10), { name: "TypeError", message: "Embedding: argument 'embedding_dim' must be int, not undefined" });
  assert.throws(() => new nn.LayerNorm(null as never), { name: "TypeError", message: "LayerNorm: argument 'normalized_shape' must be int or List[int], not null" });
  assert.throws(() => new nn.RMSNorm([4, "8"] as never), { name: "TypeError", message: "RMSNorm: argument 'normalized_shape' must be int or List[int], not a list holding non-integers" });
  assert.throws(() => nn.functional.embedding(torch.tensor([0n]), [[1, 2]] as never), { name: "TypeError", message: "embedding(): argument 'weight' (position 2) must be Tensor, not Array" });
  assert.deepEqual(new nn.LayerNorm([2, 3]).normalized_shape, [2, 3]);
});
