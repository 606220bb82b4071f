// Python's exception classes: each one, thrown from TypeScript and from C++ (libtorch's c10 types
// mapped at the native boundary), has Python's class name for the same call, is exported, and sits
// under JS's nearest built-in as src/torch/errors.ts documents.
import { test } from "node:test";
import assert from "node:assert/strict";
import { IndexError, NotImplementedError, RuntimeError, ValueError, torch } from "../../src/index.js";
import { testAgainstPython } from "../helpers/python_cases.js";

const x = torch.ones(2, 3);
const seq = new torch.nn.Sequential(new torch.nn.Linear(2, 2));

// [case, Python expression, the same call in tessera, where it is thrown]
const cases: [string, string, () => unknown, "C++" | "TypeScript"][] = [
  ["RuntimeError from c10::Error", "x.chunk(0)", () => x.chunk(0), "C++"],
  ["IndexError from c10::IndexError", "x.sum(5)", () => x.sum(5), "C++"],
  ["NotImplementedError from c10::NotImplementedError", "x.to_sparse().view(6)", () => x.to_sparse().view(6), "C++"],
  ["TypeError from an argument conversion", "x.sum('all')", () => x.sum("all" as never), "C++"],
  [
    "ValueError from c10::ValueError",
    "torch.pixel_shuffle(torch.zeros(1, 4, 2, 2), 2**40)",
    () => torch.pixel_shuffle(torch.zeros(1, 4, 2, 2), 2 ** 40),
    "C++",
  ],
  ["IndexError from size()", "x.size(2)", () => x.size(2), "TypeScript"],
  ["IndexError from indexing", "x[5]", () => x.index(5), "TypeScript"],
  ["IndexError from a container", "seq[3]", () => seq.at(3), "TypeScript"],
  [
    "ValueError from a reduction name",
    "torch.nn.functional.mse_loss(x, x, reduction='most')",
    () => torch.nn.functional.mse_loss(x, x, { reduction: "most" as never }),
    "TypeScript",
  ],
  ["ValueError from a ragged nested list", "torch.tensor([[1, 2], [3]])", () => torch.tensor([[1, 2], [3]]), "TypeScript"],
  [
    "RuntimeError from an int64 overflow",
    "torch.tensor([1e300], dtype=torch.int64)",
    () => torch.tensor([1e300], { dtype: torch.int64 }),
    "TypeScript",
  ],
];

const classes: Record<string, new (...a: never[]) => Error> = { RuntimeError, ValueError, IndexError, NotImplementedError, TypeError };

testAgainstPython(
  cases.map(([name, expr, call]) => ({
    name,
    py: `seq = torch.nn.Sequential(torch.nn.Linear(2, 2))
try:
    eval(${JSON.stringify(expr)})
    result = "no error"
except Exception as e:
    result = type(e).__name__`,
    check: (expected) => {
      assert.ok(typeof expected === "string" && expected in classes, `Python raised ${String(expected)}`);
      assert.throws(call, (e: unknown) => {
        assert.ok(e instanceof classes[expected], `${String(e)} is a ${expected}`);
        assert.equal((e as Error).name, expected);
        return true;
      });
    },
  })),
  { x },
  (c) => {
    const [name, expr, , from] = cases.find(([n]) => n === c.name)!;
    return `${name} (${from}): ${expr} raises Python's class`;
  },
);

test("the classes nest as in Python, under JS's nearest built-ins", () => {
  assert.equal(torch.OutOfMemoryError.name, "OutOfMemoryError");
  const oom = new torch.OutOfMemoryError("CUDA out of memory");
  assert.ok(oom instanceof RuntimeError && oom instanceof Error);
  assert.equal(String(oom), "OutOfMemoryError: CUDA out of memory");
  assert.ok(new NotImplementedError("x") instanceof RuntimeError);
  assert.ok(new ValueError("x") instanceof RangeError && !(new ValueError("x") instanceof RuntimeError));
  assert.ok(new IndexError("x") instanceof RangeError);
  assert.ok(!(new RuntimeError("x") instanceof RangeError));
});
