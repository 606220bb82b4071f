// Errors: libtorch's own message and Python's class for libtorch errors (compared with Python's),
// and a TypeError naming the op and the argument for JS arguments of the wrong type.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { spawnSync } from "node:child_process";
import { Worker } from "node:worker_threads";
import { torch } from "../../src/index.js";
import type { Tensor } from "../../src/torch/tensor.js";
import { testAgainstPython } from "../helpers/python_cases.js";

const a = torch.ones(2, 3);
const b = torch.ones(4);
const m = torch.ones(4, 5);
const i = torch.ones(2, 3, { dtype: torch.int64 });
const s = torch.tensor(2.5);

const libtorchErrors: [string, string, () => unknown][] = [
  ["broadcast shape mismatch", "a + b", () => a.add(b)],
  ["matmul shape mismatch", "a @ m", () => a.matmul(m)],
  ["view of an impossible shape", "a.view(4, 2)", () => a.view(4, 2)],
  ["mm of mixed dtypes", "torch.mm(a, i.t())", () => torch.mm(a, i.t())],
  ["where with a float condition", "torch.where(a, a, a)", () => torch.where(a, a, a)],
  ["index_select with a float index", "a.index_select(0, b)", () => a.index_select(0, b)],
  ["cat of mismatched shapes", "torch.cat([a, m])", () => torch.cat([a, m])],
  ["dimension out of range", "a.sum(5)", () => a.sum(5)],
  [
    "in-place on a leaf that requires grad",
    "torch.ones(2, requires_grad=True).add_(1)",
    () => torch.ones(2, { requires_grad: true }).add_(1),
  ],
  ["size of a dimension out of range", "a.size(-3)", () => a.size(-3)],
  ["stride of a dimension out of range", "a.stride(2)", () => a.stride(2)],
  ["size of a 0-dim tensor's dimension", "s.size(0)", () => s.size(0)],
  ["an op without a kernel for the backend", "a.to_sparse().view(6)", () => a.to_sparse().view(6)],
  ["chunk into no chunks", "a.chunk(0)", () => a.chunk(0)],
];

testAgainstPython(
  libtorchErrors.map(([name, expr, fn]) => ({
    name,
    py: `try:
    eval(${JSON.stringify(expr)})
    result = "no error"
except Exception as e:
    result = [type(e).__name__, str(e).split("\\n")[0]]`,
    check: (expected) => {
      assert.ok(Array.isArray(expected), "Python raised");
      const [pyType, pyMessage] = expected as [string, string];
      assert.throws(fn, (e: Error) => {
        assert.equal(e.message.split("\n")[0], pyMessage);
        assert.equal(e.name, pyType);
        return true;
      });
    },
  })),
  { a, b, m, i, s },
  (c) => `${c.name}: Python's message for ${libtorchErrors.find(([n]) => n === c.name)![1]}`,
);

test("a JS argument of the wrong type is a TypeError naming the op and the argument", () => {
  const x = torch.ones(2, 3) as Tensor;
  assert.throws(() => torch.softmax(x, "1" as never), {
    name: "TypeError",
    message: "softmax(): argument 'dim' (position 2) must be int, not string",
  });
  assert.throws(() => x.matmul("b" as never), {
    name: "TypeError",
    message: "matmul(): argument 'other' (position 2) must be Tensor, not string",
  });
  assert.throws(() => x.view(2.5 as never, 1), {
    name: "TypeError",
    message: /^view\(\) received an invalid combination of arguments - got \(Tensor, float, int\)/,
  });
  assert.throws(() => torch.layer_norm(x, [3], { eps: "small" } as never), {
    name: "TypeError",
    message: "layer_norm(): argument 'eps' must be float, not string",
  });
  assert.throws(() => torch.softmax(x, { dimm: 1 } as never), {
    name: "TypeError",
    message: "softmax() got an unexpected keyword argument 'dimm'",
  });
  assert.throws(() => (torch.dot as (...a: unknown[]) => unknown)(torch.ones(2)), {
    name: "TypeError",
    message: "dot() missing required argument 'tensor' (position 2)",
  });
  assert.throws(() => x.add(null as never), {
    name: "TypeError",
    message: "add(): argument 'other' (position 2) must be Tensor, not null",
  });
  assert.throws(() => x.sum("all" as never), {
    name: "TypeError",
    message:
      /^sum\(\) received an invalid combination of arguments - got \(Tensor, string\), but expected one of:\n \* aten::sum\(Tensor self/,
  });
  assert.throws(() => torch.tensor(["a"] as never), { name: "TypeError", message: "torch.tensor: could not infer dtype of string" });
  assert.throws(() => torch.zeros(2, { dtype: "float" } as never), {
    name: "TypeError",
    message: "zeros(): argument 'dtype' must be Optional[torch.dtype], not string",
  });
  assert.throws(() => x.size("1" as never), { name: "TypeError", message: "size(): argument 'dim' (position 1) must be int, not string" });
  assert.throws(() => x.stride(0.5), { name: "TypeError", message: "stride(): argument 'dim' (position 1) must be int, not float" });
});

test("an op that takes no arguments, given one, is a TypeError (it once crashed the process)", () => {
  const f = torch.is_vulkan_available as (...a: unknown[]) => unknown;
  assert.throws(() => f(torch.ones(1)), {
    name: "TypeError",
    message: "is_vulkan_available() takes 0 positional arguments but 1 were given",
  });
  assert.throws(() => f(5), { name: "TypeError", message: "is_vulkan_available() takes 0 positional arguments but 1 were given" });
  assert.equal(f(), false);
});

test("a scope without a callback is a TypeError that shows the TypeScript form of Python's with-block", () => {
  const scopes: [string, () => unknown][] = [
    ["torch.no_grad", () => (torch.no_grad as () => unknown)()],
    ["torch.enable_grad", () => torch.enable_grad(5 as never)],
    ["torch.set_grad_enabled", () => torch.set_grad_enabled(false, "f" as never)],
    ["torch.inference_mode", () => torch.inference_mode(true, undefined as never)],
    ["torch.scope", () => (torch.scope as () => unknown)()],
    ["torch.autocast", () => torch.autocast({ device_type: "cpu" } as never, undefined as never)],
  ];
  for (const [name, call] of scopes) {
    assert.throws(
      call,
      (e: Error) => e instanceof TypeError && e.message.startsWith(`${name}: expected a callback for the scope's body, as in ${name}(`),
      name,
    );
  }
  assert.equal(torch.is_grad_enabled(), true, "a refused scope leaves the grad mode alone");
  assert.equal(torch.is_inference_mode_enabled(), false);
});

test("assigning .grad or .data, registering a hook, and the autograd entry points check their values", () => {
  const x = torch.ones(2, { requires_grad: true });
  assert.throws(() => (x.grad = undefined as never), {
    name: "TypeError",
    message: "assigned grad must be a Tensor or null, got undefined",
  });
  assert.throws(() => (x.data = null as never), { name: "TypeError", message: "assigned data must be a Tensor, got null" });
  assert.throws(() => x.register_hook(5 as never), { name: "TypeError", message: "register_hook: hook must be a function, got number" });
  assert.throws(
    () => torch.autograd.backward([5 as never]),
    { name: "TypeError", message: "tensors[0] must be a Tensor, got int" },
    "a number is never read as a tensor handle",
  );
  assert.throws(() => torch.autograd.grad(x.sum(), [3 as never]), { name: "TypeError", message: "inputs[0] must be a Tensor, got int" });
  x.grad = torch.full([2], 3);
  assert.deepEqual(x.grad.tolist(), [3, 3]);
  x.grad = null;
  assert.equal(x.grad, null);
});

test("a disposed tensor is reported, not used", () => {
  const x = torch.ones(2);
  x.dispose();
  assert.equal(x.is_disposed, true);
  assert.throws(() => x.add(1), /argument 'self' is a disposed Tensor/);
});

// A worker_threads script that loads tessera, runs a custom Function's backward (inline and on the
// engine's worker) and posts the gradients, or the error that loading gave.
function workerScript(): string {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
  const script = path.join(mkdtempSync(path.join(os.tmpdir(), "tessera-worker-")), "worker.mjs");
  const tsxApi = import.meta.resolve("tsx/esm/api");
  const index = pathToFileURL(path.join(root, "src", "index.ts")).href;
  writeFileSync(
    script,
    `import { parentPort } from "node:worker_threads";
const { register } = await import(${JSON.stringify(tsxApi)});
register();
let torch;
try { ({ torch } = await import(${JSON.stringify(index)})); } catch (e) { parentPort.postMessage(e.message); process.exit(0); }
class Triple extends torch.autograd.Function {
  static forward(ctx, x) { return x.mul(3); }
  static backward(ctx, g) { return g.mul(3); }
}
const grads = [false, true].map((onWorker) => {
  torch._C.setEngineOnWorker(onWorker);
  const x = torch.ones(2, { requires_grad: true });
  Triple.apply(x).sum().backward();
  return x.grad.tolist();
});
parentPort.postMessage(grads);
`,
  );
  return script;
}

test("loading tessera in a second thread (worker_threads) is a clear error, and the first thread goes on", async () => {
  const worker = new Worker(workerScript());
  const message = await new Promise((resolve, reject) => {
    worker.on("message", resolve);
    worker.on("error", reject);
  });
  await worker.terminate();
  assert.match(String(message), /^tessera is already loaded by another thread of this process: .*worker_threads are not supported/);
  assert.deepEqual(torch.ones(2).add(1).tolist(), [2, 2]);
});

test("a Worker may use tessera when no other thread does, and after an earlier Worker has ended", () => {
  const driver = path.join(mkdtempSync(path.join(os.tmpdir(), "tessera-workers-")), "driver.mjs");
  writeFileSync(
    driver,
    `import { Worker } from "node:worker_threads";
for (let i = 0; i < 2; i++) {
  const w = new Worker(${JSON.stringify(workerScript())});
  console.log(JSON.stringify(await new Promise((resolve, reject) => { w.on("message", resolve); w.on("error", reject); })));
  await new Promise((resolve) => w.on("exit", resolve));
}`,
  );
  const r = spawnSync(process.execPath, [driver], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(
    r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l)),
    [
      [
        [3, 3],
        [3, 3],
      ],
      [
        [3, 3],
        [3, 3],
      ],
    ],
  );
});
