// Modules are callable: `module(x)` is `module.forward(x)` with the forward hooks, as Python's
// `__call__`; instanceof, subclassing, registration and containers behave as for a plain instance.
import { test } from "node:test";
import assert from "node:assert/strict";
import { torch } from "../../src/index.js";
import { assertClose, runPython } from "../helpers/oracle.js";

const { nn } = torch;
type Tensor = torch.Tensor;

class Block extends nn.Module {
  layers = new nn.ModuleList([new nn.Linear(3, 4), new nn.Linear(4, 2)]);
  scale = 2;
  declare shift: Tensor;
  constructor() {
    super();
    this.register_buffer("shift", torch.tensor([0.5, -0.5]));
  }
  override forward(x: Tensor, { double = false }: { double?: boolean } = {}): Tensor {
    let h = x;
    for (const l of this.layers) h = l(h);
    const y = h.mul(this.scale).add(this.shift);
    return double ? y.mul(2) : y;
  }
}

test("module(x, opts) equals Python's module(x) and runs the hooks", () => {
  torch.manual_seed(0);
  const b = new Block();
  const x = torch.tensor([
    [1.0, -2.0, 0.5],
    [0.0, 3.0, -1.0],
  ]);
  const sd = b.state_dict();
  const py = runPython(
    `
m = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
m[0].weight.data.copy_(w0); m[0].bias.data.copy_(b0); m[1].weight.data.copy_(w1); m[1].bias.data.copy_(b1)
y = m(x) * 2 + torch.tensor([0.5, -0.5])
out["y"] = y
out["y2"] = y * 2
`,
    { x, w0: sd["layers.0.weight"], b0: sd["layers.0.bias"], w1: sd["layers.1.weight"], b1: sd["layers.1.bias"] },
  );
  assertClose(b(x), py.y as Tensor);
  assertClose(b(x, { double: true }), py.y2 as Tensor);
  assertClose(b.forward(x), py.y as Tensor);

  // Zeroed input: the output is the biases' path plus the shift.
  const zero = b(torch.zeros(2, 3));
  const seen: string[] = [];
  const pre = b.register_forward_pre_hook((_m, args) => {
    seen.push("pre");
    return [(args[0] as Tensor).mul(0), ...args.slice(1)];
  });
  const post = b.register_forward_hook((_m, _args, out) => {
    seen.push("post");
    return (out as Tensor).add(100);
  });
  // `forward` runs the hooks too (tessera's documented rule; Python's forward does not).
  assertClose(b(x), zero.add(100));
  assertClose(b.forward(x), zero.add(100));
  assert.deepEqual(seen, ["pre", "post", "pre", "post"]);
  pre.remove();
  post.remove();
  assertClose(b(x), py.y as Tensor);
  assert.equal(seen.length, 4, "removed hooks no longer run");
});

test("a callable module is still an instance of its class with its registered members", () => {
  const b = new Block();
  assert.equal(typeof b, "function");
  assert.ok(b instanceof Block && b instanceof nn.Module);
  assert.equal(b.constructor, Block);
  assert.equal(Object.getPrototypeOf(b), Block.prototype);
  assert.deepEqual(
    [...b.named_parameters()].map(([k]) => k),
    ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"],
  );
  // Own parameters and buffers before the children's, as PyTorch's state_dict.
  assert.deepEqual(Object.keys(b.state_dict()), ["shift", "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]);
  assert.equal(b.layers.length, 2, "ModuleList's length is the class's getter, not a function's arity");
  assert.ok(b.layers[1] instanceof nn.Linear);
  assert.equal(b.training, true);
  assert.equal(b.eval().training, false);
  assert.equal(b.layers[0].training, false);
  // Python's Module.apply(fn), not Function.prototype.apply.
  const visited: string[] = [];
  b.apply((m) => void visited.push(m.constructor.name));
  assert.deepEqual(visited, ["Linear", "Linear", "ModuleList", "Block"]);
  // A module has no name of its own: assigning one is a plain attribute (Python allows `self.name = ...`).
  const named = new nn.Linear(2, 2) as torch.nn.Linear & { name: string };
  named.name = "head";
  assert.equal(named.name, "head");
  assert.match(String(b), /^Block\(\n {2}\(layers\): ModuleList\(/);
});

test("Sequential and a forward assigned later are callable too; the base Module's call names what is missing", () => {
  torch.manual_seed(1);
  const seq = new nn.Sequential(new nn.Linear(2, 3), new nn.ReLU(), new nn.Linear(3, 1));
  const x = torch.tensor([[1.0, 2.0]]);
  assertClose(seq(x), seq[2].forward(seq[1].forward(seq[0].forward(x))) as Tensor);
  const lin = new nn.Linear(2, 1);
  lin.forward = (t: Tensor) => t.sum(-1, { keepdim: true });
  assertClose(lin(x), torch.tensor([[3.0]]));
  assert.throws(() => new nn.Module().forward(x), /missing the required "forward" function/);
  const base: torch.nn.Module = new nn.Module();
  assert.throws(() => (base as unknown as (t: Tensor) => unknown)(x), /missing the required "forward" function/);
});

test("errors name a module by its class", () => {
  const lin = new nn.Linear(2, 2);
  assert.throws(() => new nn.Linear(lin as unknown as number, 2), /argument 'in_features' must be int, not Linear/);
});
