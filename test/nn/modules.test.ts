// nn modules, losses, functional, init and clip_grad_norm_ against Python PyTorch: one Python run for
// the table of cases, one named test per layer, loss, function and init.
import { test } from "node:test";
import assert from "node:assert/strict";
import { torch } from "../../src/index.js";
import { assertClose, runPython, type PyValue } from "../helpers/oracle.js";
import { assertMatches, testAgainstPython, type PythonCase, type Tolerance } from "../helpers/python_cases.js";

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

const ids = torch.tensor(
  [
    [1, 2, 3, 9],
    [4, 1, 0, 7],
  ],
  { dtype: torch.int64 },
);
const target = torch.tensor(
  [
    [0, 4, -100, 2],
    [3, 1, 1, 0],
  ],
  { dtype: torch.int64 },
);
const classWeight = torch.tensor([1.0, 2.0, 0.5, 1.5, 1.0]);
torch.manual_seed(3);
const x8 = torch.randn(2, 4, 8);
const logits8x5 = torch.randn(8, 5);

/** A layer built after manual_seed(0) (Python's constructor as `py`), run on `x`, then y.pow(2).sum().backward(). */
function layerCase(name: string, py: string, make: () => torch.nn.Module, x: Tensor, mode: "eval" | "train" = "eval"): PythonCase {
  const pyMode = mode === "eval" ? "m.eval()" : "m.train()";
  return {
    name,
    inputs: { x },
    py: `torch.manual_seed(0)
m = ${py}
${pyMode}
x = inputs["x"].clone().requires_grad_(inputs["x"].is_floating_point())
init = {k: v.detach().clone() for k, v in m.state_dict().items()}
torch.manual_seed(5)
y = m(x)
y.pow(2).sum().backward()
result = {"init": init, "y": y, "grads": {k: p.grad for k, p in m.named_parameters()}, "x_grad": x.grad}`,
    check: (expected) => {
      torch.manual_seed(0);
      const m = make();
      if (mode === "eval") m.eval();
      else m.train();
      const input = x.is_floating_point() ? x.clone().requires_grad_() : x;
      const init = Object.fromEntries(Object.entries(m.state_dict()).map(([k, v]) => [k, v.detach().clone()]));
      torch.manual_seed(5);
      const y = (m as unknown as (x: Tensor) => Tensor)(input);
      y.pow(2).sum().backward();
      const grads = Object.fromEntries([...m.named_parameters()].map(([k, p]) => [k, p.grad]));
      assertMatches({ init, y, grads, x_grad: input.grad }, expected, { rtol: 1e-4, atol: 1e-6 });
    },
  };
}

/** Python's expression `py` and tessera's `js` for the same call; the gradients of y.pow(2).sum() with respect to the floating inputs (but `fixed`) are compared too. */
function valueCase(
  name: string,
  py: string,
  js: (inputs: Record<string, Tensor>) => Tensor,
  inputs: Record<string, Tensor>,
  { tol = {}, fixed = [] }: { tol?: Tolerance; fixed?: string[] } = {},
): PythonCase {
  const floats = Object.keys(inputs).filter((k) => inputs[k].is_floating_point() && !fixed.includes(k));
  return {
    name,
    inputs,
    py: `globals().update({k: (v.clone().requires_grad_(True) if k in ${JSON.stringify(floats)} else v) for k, v in inputs.items()})
y = ${py}
grads = torch.autograd.grad(y.pow(2).sum(), [globals()[k] for k in ${JSON.stringify(floats)}]) if y.requires_grad else []
result = {"y": y, "grads": list(grads)}`,
    check: (expected) => {
      const own = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, floats.includes(k) ? v.clone().requires_grad_() : v]));
      const y = js(own);
      const grads = y.requires_grad
        ? torch.autograd.grad(
            y.pow(2).sum(),
            floats.map((k) => own[k]),
          )
        : [];
      assertMatches({ y, grads }, expected, { rtol: 1e-4, atol: 1e-6, ...tol });
    },
  };
}

/** An init function applied, after manual_seed(11), to an empty 6×5 weight. */
function initCase(name: string, py: string, js: (t: Tensor) => Tensor): PythonCase {
  return {
    name: `init: ${name}`,
    py: `torch.manual_seed(11)
I = torch.nn.init
result = (${py})(torch.empty(6, 5))`,
    check: (expected) => {
      torch.manual_seed(11);
      assertMatches(js(torch.empty(6, 5)), expected, { rtol: 1e-6, atol: 1e-7 });
    },
  };
}

torch.manual_seed(7);
const q = torch.randn(2, 4, 5, 8);
const k = torch.randn(2, 2, 5, 8);
const v = torch.randn(2, 2, 5, 8);
const attnMask = torch.randn(5, 5).gt(0);

testAgainstPython(
  [
    layerCase(
      "Embedding with padding_idx",
      "torch.nn.Embedding(10, 6, padding_idx=1)",
      () => new nn.Embedding(10, 6, { padding_idx: 1 }),
      ids,
    ),
    layerCase("Linear", "torch.nn.Linear(8, 6)", () => new nn.Linear(8, 6), x8),
    layerCase("Linear without bias", "torch.nn.Linear(8, 5, bias=False)", () => new nn.Linear(8, 5, false), x8),
    layerCase("GELU", "torch.nn.GELU()", () => new nn.GELU(), x8),
    layerCase("GELU tanh", 'torch.nn.GELU("tanh")', () => new nn.GELU("tanh"), x8),
    layerCase("LayerNorm", "torch.nn.LayerNorm(8)", () => new nn.LayerNorm(8), x8),
    layerCase("RMSNorm", "torch.nn.RMSNorm(8, eps=1e-6)", () => new nn.RMSNorm(8, { eps: 1e-6 }), x8),
    layerCase("SiLU", "torch.nn.SiLU()", () => new nn.SiLU(), x8),
    layerCase("Dropout in eval", "torch.nn.Dropout(0.3)", () => new nn.Dropout(0.3), x8),
    layerCase("Dropout in training (Python's mask for the same seed)", "torch.nn.Dropout(0.3)", () => new nn.Dropout(0.3), x8, "train"),
    layerCase("a model of all of them", "(exec(PY_NET, globals()), Net())[1]", () => new Net(), ids),
    valueCase(
      "CrossEntropyLoss with class weights, ignore_index and label smoothing",
      "torch.nn.CrossEntropyLoss(weight=w, ignore_index=-100, label_smoothing=0.1)(x, t)",
      ({ x, t, w }) => new nn.CrossEntropyLoss({ weight: w, ignore_index: -100, label_smoothing: 0.1 })(x, t),
      { x: logits8x5, t: target.view(-1), w: classWeight },
      { fixed: ["w"] },
    ),
    valueCase(
      "MSELoss(reduction='sum')",
      "torch.nn.MSELoss(reduction='sum')(x, torch.zeros(8, 5) + 0.5)",
      ({ x }) => new nn.MSELoss({ reduction: "sum" })(x, torch.zeros(8, 5).add(0.5)),
      { x: logits8x5 },
    ),
    valueCase(
      "nll_loss of log_softmax",
      "F.nll_loss(F.log_softmax(x, -1), t, reduction='sum')",
      ({ x, t }) => F.nll_loss(F.log_softmax(x, -1), t, { reduction: "sum" }),
      { x: logits8x5, t: target.view(-1) },
    ),
    valueCase(
      "scaled_dot_product_attention: causal, GQA, scale",
      "F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True, scale=0.3)",
      ({ q, k, v }) => F.scaled_dot_product_attention(q, k, v, { is_causal: true, enable_gqa: true, scale: 0.3 }),
      { q, k, v },
    ),
    valueCase(
      "scaled_dot_product_attention: boolean mask",
      "F.scaled_dot_product_attention(q, k, v, attn_mask=m)",
      ({ q, k, v, m }) => F.scaled_dot_product_attention(q, k, v, { attn_mask: m }),
      { q, k: k.repeat_interleave(2, 1), v: v.repeat_interleave(2, 1), m: attnMask },
    ),
    valueCase(
      "pad, constant",
      "F.pad(x, [1, 2], 'constant', 3.0)",
      ({ x }) => F.pad(x, [1, 2], "constant", 3.0),
      { x: q.index([0, 0]) },
      { tol: { rtol: 0, atol: 0 } },
    ),
    initCase("kaiming_normal_ fan_out relu", 'lambda t: I.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")', (t) =>
      nn.init.kaiming_normal_(t, { mode: "fan_out", nonlinearity: "relu" }),
    ),
    initCase("kaiming_uniform_", "lambda t: I.kaiming_uniform_(t)", (t) => nn.init.kaiming_uniform_(t)),
    initCase("xavier_uniform_ with tanh's gain", 'lambda t: I.xavier_uniform_(t, I.calculate_gain("tanh"))', (t) =>
      nn.init.xavier_uniform_(t, nn.init.calculate_gain("tanh")),
    ),
    initCase("xavier_normal_", "lambda t: I.xavier_normal_(t)", (t) => nn.init.xavier_normal_(t)),
    initCase("trunc_normal_ std 0.02", "lambda t: I.trunc_normal_(t, std=0.02)", (t) => nn.init.trunc_normal_(t, { std: 0.02 })),
    initCase("trunc_normal_ on [0, 0.6]", "lambda t: I.trunc_normal_(t, mean=0.5, std=1.0, a=0.0, b=0.6)", (t) =>
      nn.init.trunc_normal_(t, { mean: 0.5, std: 1.0, a: 0.0, b: 0.6 }),
    ),
    initCase("normal_", "lambda t: I.normal_(t, 1.0, 0.5)", (t) => nn.init.normal_(t, 1.0, 0.5)),
  ],
  { PY_NET },
  (c) => `${c.name} matches Python`,
);

test("clip_grad_norm_ returns Python's total norm and clips like it", () => {
  torch.manual_seed(5);
  const a = new nn.Parameter(torch.randn(4, 3));
  const b = new nn.Parameter(torch.randn(7));
  const ga = torch.randn(4, 3).mul(3);
  const gb = torch.randn(7);
  const results: Record<string, PyValue> = {};
  for (const [name, maxNorm, normType] of [
    ["l2", 1.0, 2.0],
    ["inf", 0.5, "inf"],
    ["l1_noclip", 1e6, 1.0],
  ] as const) {
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
    (e: Error) =>
      e.message ===
      "Error(s) in loading state_dict for M:\n\tsize mismatch for fc.weight: copying a param with shape torch.Size([2, 3]) from checkpoint, the shape in current model is torch.Size([3, 3]).",
  );
  const partial = { "fc.weight": torch.ones(3, 3), extra: torch.zeros(1) };
  assert.throws(
    () => m.load_state_dict(partial),
    (e: Error) =>
      e.message ===
      'Error(s) in loading state_dict for M:\n\tMissing key(s) in state_dict: "fc.bias". \n\tUnexpected key(s) in state_dict: "extra". ',
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
  assert.deepEqual(
    [...b.named_parameters()].map(([k]) => k),
    ["scale", "layers.0.weight", "layers.0.bias", "heads.b.weight", "heads.b.bias", "heads.a.weight", "heads.a.bias"],
  );
  assert.deepEqual(Object.keys(b.state_dict()), [
    "scale",
    "running",
    "layers.0.weight",
    "layers.0.bias",
    "heads.b.weight",
    "heads.b.bias",
    "heads.a.weight",
    "heads.a.bias",
  ]);
  assert.deepEqual(
    [...b.named_buffers()].map(([k]) => k),
    ["running", "tmp"],
  );
  assert.deepEqual(
    [...b.named_modules()].map(([k]) => k),
    ["", "layers", "layers.0", "layers.1", "heads", "heads.b", "heads.a"],
  );
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
  assertClose(
    y,
    b.heads
      .get("a")
      .forward(b.layers[1].forward(b.layers[0].forward(torch.zeros(3, 2))) as Tensor)
      .mul(b.scale)
      .add(100),
  );
  pre.remove();
  post.remove();
  assertClose(
    b.forward(x),
    b.heads
      .get("a")
      .forward(b.layers[1].forward(b.layers[0].forward(x)) as Tensor)
      .mul(b.scale),
  );
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
  assert.match(
    String(new nn.Sequential(new nn.Linear(2, 3), new nn.GELU())),
    /Sequential\(\n {2}\(0\): Linear\(in_features=2, out_features=3, bias=True\)\n {2}\(1\): GELU\(approximate='none'\)\n\)/,
  );

  b.forward(x.double()).sum().backward();
  b.zero_grad();
  assert.equal(b.scale.grad, null);
});

test("layers and functional name a bad size or weight argument instead of failing inside", () => {
  assert.throws(() => new nn.Linear("4" as never, 2), {
    name: "TypeError",
    message: "Linear: argument 'in_features' must be int, not string",
  });
  assert.throws(() => new nn.Linear(4, 2.5), { name: "TypeError", message: "Linear: argument 'out_features' must be int, not float" });
  assert.throws(() => new (nn.Embedding as new (...a: unknown[]) => unknown)(10), {
    name: "TypeError",
    message: "Embedding: argument 'embedding_dim' must be int, not undefined",
  });
  assert.throws(() => new nn.LayerNorm(null as never), {
    name: "TypeError",
    message: "LayerNorm: argument 'normalized_shape' must be int or List[int], not null",
  });
  assert.throws(() => new nn.RMSNorm([4, "8"] as never), {
    name: "TypeError",
    message: "RMSNorm: argument 'normalized_shape' must be int or List[int], not a list holding non-integers",
  });
  assert.throws(() => nn.functional.embedding(torch.tensor([0n]), [[1, 2]] as never), {
    name: "TypeError",
    message: "embedding(): argument 'weight' (position 2) must be Tensor, not Array",
  });
  assert.deepEqual(new nn.LayerNorm([2, 3]).normalized_shape, [2, 3]);
});
