// Tensor creation, random streams, conversions to JS, printing and dtype/device round trips,
// against Python PyTorch (one oracle call for the whole file).
import { test } from "node:test";
import assert from "node:assert/strict";
import { torch } from "../../src/index.js";
import type { Tensor } from "../../src/torch/tensor.js";
import { assertClose, runPython } from "../helpers/oracle.js";

const dtypes = ["float32", "float16", "bfloat16", "float64", "int64", "int32", "int8", "uint8", "bool"] as const;
const dt = (name: string) => (torch as unknown as Record<string, torch.dtype>)[name];

// Tensors whose str() is compared with Python's.
function printed(): Record<string, Tensor> {
  const a = torch.arange(6).view(2, 3);
  return {
    ints: a,
    floats: torch.tensor([
      [1.5, -2.25, 3],
      [0.125, 10, -7],
    ]),
    sci: torch.tensor([1e-8, 1, 1e8]),
    bool: torch.tensor([true, false, true]),
    zero_d: torch.tensor(3.5),
    empty: torch.zeros(0, 3),
    summarized: torch.arange(1200).to(torch.float32),
    requires_grad: torch.tensor([1.0, 2.0], { requires_grad: true }),
    grad_fn: torch.tensor([1.0, 2.0], { requires_grad: true }).mul(2),
    float64: torch.tensor([0.1, 0.2], { dtype: torch.float64 }),
    int8: torch.tensor([-3, 4], { dtype: torch.int8 }),
    nan_inf: torch.tensor([Number.NaN, Infinity, -Infinity, 1]),
    // Exact ties round to the even digit in Python's format (JS's toFixed rounds them up).
    fixed_ties: torch.tensor([-129887.65625, 59011.40625, 500.5]),
    sci_ties: torch.tensor([123445, 0.5]),
    empty_int64: torch.zeros(0, { dtype: torch.int64 }),
    // A suffix that would pass 80 columns goes on its own line.
    wrapped_suffix: torch.tensor([77909.2578, -95944.3125, 60912.3125, -146296.9062, 8602.627], { dtype: torch.float64 }),
  };
}

const PY = String.raw`
torch.manual_seed(0)
out["randn5"] = torch.randn(5)
torch.manual_seed(123)
out["rand"] = torch.rand(2, 3)
out["randint"] = torch.randint(0, 10, (6,))
g = torch.Generator().manual_seed(7)
out["gen_randn"] = torch.randn(4, generator=g)
out["linspace"] = torch.linspace(0, 1, 5)
out["arange_f"] = torch.arange(0, 1, 0.25)
out["arange_i"] = torch.arange(2, 11, 3)
out["full"] = torch.full((2, 2), 7.0)
out["str"] = {k: str(v) for k, v in printed.items()}
out["str"]["grad_fn"] = str(torch.tensor([1.0, 2.0], requires_grad=True).mul(2))  # inputs arrive as leaves
out["roundtrip"] = {d: src.to(getattr(torch, d)) for d in dtypes}
out["back"] = {d: src.to(getattr(torch, d)).to(torch.float32) for d in dtypes}
out["tolist"] = torch.tensor([[1.5, 2], [3, 4]]).tolist()
numbers = [[1.5, -2.25, 1e10, 0.1], [-0.9, 3, 2 ** 53, -7.5]]
out["from_numbers"] = {d: torch.tensor(numbers, dtype=getattr(torch, d)) for d in ["float32", "float64", "float16", "bfloat16", "int64"]}
`;

const src = torch.tensor([-2.5, -1, 0, 0.5, 1, 3.75, 100, 255]);
const expected = runPython(PY, { printed: printed(), dtypes: [...dtypes], src });

test("torch.tensor from nested arrays: shape and the default dtype for numbers", () => {
  const t = torch.tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  assert.deepEqual(t.shape, [2, 3]);
  assert.equal(t.dtype, torch.float32);
  assert.deepEqual(t.tolist(), [
    [1, 2, 3],
    [4, 5, 6],
  ]);
  assert.equal(torch.tensor([1n, 2n]).dtype, torch.int64);
  assert.equal(torch.tensor([true, false]).dtype, torch.bool);
  assert.equal(torch.tensor([1, 2], { dtype: torch.int32 }).dtype, torch.int32);
  assert.deepEqual(torch.tensor(5).shape, []);
  assert.throws(() => torch.tensor([[1, 2], [3]]), /expected sequence of length 2 at dim 1 \(got 1\)/);
});

test("torch.tensor from nested plain numbers, for float and int64 dtypes, equals Python's", () => {
  const numbers = [
    [1.5, -2.25, 1e10, 0.1],
    [-0.9, 3, 2 ** 53, -7.5],
  ];
  const want = expected.from_numbers as Record<string, Tensor>;
  for (const d of ["float32", "float64", "float16", "bfloat16", "int64"]) {
    const t = torch.tensor(numbers, { dtype: dt(d) });
    assert.equal(t.dtype, dt(d));
    assert.deepEqual(t.tolist(), want[d].tolist(), d);
  }
  assert.throws(() => torch.tensor([1e300], { dtype: torch.int64 }), {
    name: "RuntimeError",
    message: "torch.tensor: value 1e+300 cannot be converted to type int64 without overflow",
  });
  assert.throws(() => torch.tensor([[1, 2], [3]]), {
    name: "ValueError",
    message: "torch.tensor: expected sequence of length 2 at dim 1 (got 1)",
  });
});

test("torch.tensor from TypedArrays keeps their dtype", () => {
  const cases: [ArrayBufferView, torch.dtype][] = [
    [new Float32Array([1, 2]), torch.float32],
    [new Float64Array([1, 2]), torch.float64],
    [new Int32Array([1, 2]), torch.int32],
    [new BigInt64Array([1n, 2n]), torch.int64],
    [new Int8Array([1, 2]), torch.int8],
    [new Uint8Array([1, 2]), torch.uint8],
    [new Int16Array([1, 2]), torch.int16],
  ];
  for (const [data, d] of cases) {
    const t = torch.tensor(data as Float32Array);
    assert.equal(t.dtype, d, data.constructor.name);
    assert.deepEqual(t.tolist(), [1, 2]);
  }
  const copy = new Float32Array([1, 2]);
  const t = torch.tensor(copy);
  copy[0] = 9;
  assert.equal(t.tolist()[0 as never], 1, "torch.tensor copies its data");
});

test("factory functions: zeros/ones/empty/full/arange/linspace and *_like", () => {
  assert.deepEqual(torch.zeros(2, 3).tolist(), [
    [0, 0, 0],
    [0, 0, 0],
  ]);
  assert.deepEqual(torch.ones([2], { dtype: torch.int64 }).tolist(), [1, 1]);
  assert.equal(torch.ones(2, { dtype: torch.int64 }).dtype, torch.int64);
  assert.deepEqual(torch.empty(4, 5).shape, [4, 5]);
  assertClose(torch.full([2, 2], 7), expected.full as Tensor);
  assert.equal(torch.full([1], true).dtype, torch.bool);
  assertClose(torch.linspace(0, 1, 5), expected.linspace as Tensor);
  assertClose(torch.arange(0, 1, 0.25), expected.arange_f as Tensor);
  const ai = torch.arange(2, 11, 3);
  assert.equal(ai.dtype, torch.int64);
  assertClose(ai, expected.arange_i as Tensor);
  const base = torch.ones(3, 2, { dtype: torch.float64 });
  for (const like of [
    torch.zeros_like(base),
    torch.ones_like(base),
    torch.empty_like(base),
    torch.full_like(base, 2),
    torch.randn_like(base),
    torch.rand_like(base),
  ]) {
    assert.deepEqual(like.shape, [3, 2]);
    assert.equal(like.dtype, torch.float64);
  }
  assert.deepEqual(torch.full_like(base, 2).tolist(), [
    [2, 2],
    [2, 2],
    [2, 2],
  ]);
  assert.equal(torch.zeros(2, { requires_grad: true }).requires_grad, true);
});

test("manual_seed reproduces Python's random numbers", () => {
  torch.manual_seed(0);
  assertClose(torch.randn(5), expected.randn5 as Tensor, { rtol: 0, atol: 0 });
  torch.manual_seed(123);
  assertClose(torch.rand(2, 3), expected.rand as Tensor, { rtol: 0, atol: 0 });
  const ri = torch.randint(0, 10, [6]);
  assert.equal(ri.dtype, torch.int64);
  assertClose(ri, expected.randint as Tensor, { rtol: 0, atol: 0 });
  torch.manual_seed(5);
  const a = torch.randn(3);
  torch.manual_seed(5);
  assertClose(torch.randn(3), a, { rtol: 0, atol: 0 });
  assert.equal(torch.initial_seed(), 5);
});

test("a Generator is its own stream, equal to Python's", () => {
  const g = new torch.Generator().manual_seed(7);
  assert.equal(g.initial_seed(), 7);
  const state = g.get_state();
  const first = torch.randn(4, { generator: g });
  assertClose(first, expected.gen_randn as Tensor, { rtol: 0, atol: 0 });
  g.set_state(state);
  assertClose(torch.randn(4, { generator: g }), first, { rtol: 0, atol: 0 });
});

test("item, tolist and typed_array", () => {
  assert.equal(torch.tensor(2.5).item(), 2.5);
  assert.equal(torch.tensor([7n]).item(), 7);
  assert.equal(torch.tensor(true).item(), true);
  assert.throws(() => torch.ones(2).item(), /a Tensor with 2 elements cannot be converted to Scalar/);
  assert.deepEqual(
    torch
      .tensor([
        [1.5, 2],
        [3, 4],
      ])
      .tolist(),
    expected.tolist,
  );
  assert.deepEqual(torch.tensor([true, false]).tolist(), [true, false]);
  assert.deepEqual(torch.arange(3).tolist(), [0, 1, 2]);
  assert.equal(torch.tensor(1.5, { dtype: torch.float16 }).tolist(), 1.5);
});

test("typed_array is a zero-copy view of a contiguous tensor", () => {
  const t = torch.zeros(2, 3);
  const view = t.typed_array() as Float32Array;
  assert.ok(view instanceof Float32Array);
  view[4] = 42;
  assert.equal(t.index([1, 1]).item(), 42, "a write through the view shows in the tensor");
  t.index_put_([0, 0], 7);
  assert.equal(view[0], 7, "a write to the tensor shows in the view");
  assert.ok(torch.arange(4).typed_array() instanceof BigInt64Array);
  const strided = torch.arange(6).view(2, 3).t();
  assert.deepEqual(
    Array.from(strided.typed_array() as BigInt64Array, Number),
    [0, 3, 1, 4, 2, 5],
    "non-contiguous: a copy in logical order",
  );
});

test("a tensor whose memory a typed_array() view shares cannot grow, and a refused resize_ leaves it whole", () => {
  const t = torch.zeros(4);
  const view = t.typed_array() as Float32Array;
  assert.throws(() => t.resize_(1 << 20), /Trying to resize storage that is not resizable/);
  assert.deepEqual([t.shape, t.stride()], [[4], [1]], "as it was, not claiming the new size");
  t.fill_(3);
  assert.deepEqual(Array.from(view), [3, 3, 3, 3], "the view still shares the tensor's memory");
  t.resize_(2, 2);
  assert.deepEqual(t.shape, [2, 2], "a resize within the memory it has is fine");
  assert.deepEqual(torch.zeros(2).resize_(100).shape, [100], "a tensor without a view grows");
  const listed = torch.zeros(2);
  listed.tolist();
  assert.deepEqual(listed.resize_(100).shape, [100], "tolist() takes no lasting view");
});

test("toString equals Python's str(t)", () => {
  const strs = expected.str as Record<string, string>;
  for (const [name, t] of Object.entries(printed())) assert.equal(t.toString(), strs[name], name);
});

for (const d of dtypes) {
  test(`dtype round trip float32 -> ${d} -> float32 matches Python`, () => {
    const t = src.to(dt(d));
    assert.equal(t.dtype, dt(d));
    assert.equal(t.dtype.name, d);
    assertClose(t, (expected.roundtrip as Record<string, Tensor>)[d], { rtol: 0, atol: 0 });
    assertClose(t.to(torch.float32), (expected.back as Record<string, Tensor>)[d], { rtol: 0, atol: 0 });
  });
}

test("conversion helpers and device round trips", () => {
  const t = torch.tensor([1.5, -2]);
  assert.equal(t.double().dtype, torch.float64);
  assert.equal(t.half().dtype, torch.float16);
  assert.equal(t.bfloat16().dtype, torch.bfloat16);
  assert.equal(t.long().dtype, torch.int64);
  assert.equal(t.int().dtype, torch.int32);
  assert.equal(t.bool().dtype, torch.bool);
  assert.equal(t.to(torch.float32), t, "to() of the same dtype returns the tensor itself");
  const m = t.to("meta");
  assert.equal(m.device.type, "meta");
  assert.deepEqual(m.shape, [2]);
  assert.equal(t.to({ device: "meta", dtype: torch.float64 }).dtype, torch.float64);
  const back = t.cpu();
  assert.equal(back.device.type, "cpu");
  assert.equal(t.to(torch.zeros(1, { dtype: torch.int32 })).dtype, torch.int32, "to(other) takes other's dtype");
  const meta = torch.ones(3, { device: "meta" });
  assert.equal(meta.device.type, "meta");
  assert.equal(String(meta.add(1).device), "meta");
  assert.throws(() => meta.cpu(), /Cannot copy out of meta tensor; no data!/);
});

test("size(dim) and stride(dim), and null for the whole shape as Python's None", () => {
  const t = torch.zeros(2, 3, 4).permute(2, 0, 1);
  assert.deepEqual([t.size(0), t.size(-1), t.stride(0), t.stride(-2)], [4, 3, 1, 12]);
  assert.deepEqual(t.size(null), [4, 2, 3]);
  assert.deepEqual(t.stride(null), [1, 12, 4]);
  assert.deepEqual(torch.tensor(1.5).size(), []);
});

test("torch.cuda memory statistics are 0 where CUDA is absent, as PyTorch reports before CUDA starts", () => {
  const stats = [
    torch.cuda.memory_allocated(),
    torch.cuda.max_memory_allocated(null),
    torch.cuda.memory_reserved("cuda"),
    torch.cuda.max_memory_reserved(0),
  ];
  if (torch.cuda.is_available()) {
    for (const v of stats) assert.ok(Number.isInteger(v) && v >= 0);
  } else {
    assert.deepEqual(stats, [0, 0, 0, 0]);
  }
  assert.throws(() => torch.cuda.memory_allocated("cpu"), { name: "TypeError", message: "expected a CUDA device, got 'cpu'" });
});
