// "One Python call, one named test per case": a table of cases, each with the Python that computes
// its expected value and the check of tessera's value against it. Every case's Python runs in one
// interpreter (starting it costs more than most cases), then each case is its own node:test, so a
// failure names the layer, loss or op that failed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { torch } from "../../src/index.js";
import type { Tensor } from "../../src/torch/tensor.js";
import { assertClose, runPython, type PyValue } from "./oracle.js";

export interface PythonCase {
  name: string;
  /** Python statements that set `result`; they see `torch`, `F` (torch.nn.functional), the shared inputs and `inputs`. */
  py: string;
  /** This case's own inputs, as `inputs[...]` in its Python. */
  inputs?: Record<string, PyValue>;
  /** Checks tessera against `expected`, the `result` Python computed. */
  check: (expected: PyValue) => void;
}

const LOOP = String.raw`
F = torch.nn.functional
_shared = dict(globals())
for _name, _case in _cases.items():
    _ns = dict(_shared)
    _ns["inputs"] = _case["inputs"]
    exec(_case["py"], _ns)
    out[_name] = _ns["result"]
`;

/** Registers one test per case, titled `title(case)` (default: its name), after one Python run for all of them. */
export function testAgainstPython(
  cases: PythonCase[],
  shared: Record<string, PyValue> = {},
  title: (c: PythonCase) => string = (c) => c.name,
): void {
  const names = new Set<string>();
  for (const c of cases) {
    assert.ok(!names.has(c.name), `two cases are named ${c.name}`);
    names.add(c.name);
  }
  const expected = runPython(LOOP, {
    ...shared,
    _cases: Object.fromEntries(cases.map((c) => [c.name, { py: c.py, inputs: c.inputs ?? {} }])),
  });
  for (const c of cases) test(title(c), () => c.check(expected[c.name]));
}

export interface Tolerance {
  rtol?: number;
  atol?: number;
}

/** Compares tessera's value with Python's: tensors closely (dtype too), lists item by item, objects key by key, the rest exactly. */
export function assertMatches(actual: unknown, expected: PyValue, tol: Tolerance = {}, where = "result"): void {
  if (actual instanceof torch.Tensor) {
    assert.ok(expected instanceof torch.Tensor, `${where}: Python gave ${JSON.stringify(expected)}, not a tensor`);
    assert.equal(actual.dtype.name, (expected as Tensor).dtype.name, `${where}: dtype`);
    assertClose(actual.detach(), expected as Tensor, { ...tol, msg: where });
  } else if (Array.isArray(actual)) {
    assert.ok(Array.isArray(expected), `${where}: Python gave no list`);
    assert.equal(actual.length, expected.length, `${where}: length`);
    actual.forEach((a, i) => assertMatches(a, (expected as PyValue[])[i], tol, `${where}[${i}]`));
  } else if (actual !== null && typeof actual === "object") {
    assert.ok(expected !== null && typeof expected === "object" && !Array.isArray(expected), `${where}: Python gave no dict`);
    assert.deepEqual(Object.keys(actual), Object.keys(expected), `${where}: keys`);
    for (const [k, v] of Object.entries(actual)) assertMatches(v, (expected as Record<string, PyValue>)[k], tol, `${where}.${k}`);
  } else if (typeof actual === "number" && typeof expected === "number") {
    assert.ok(
      Math.abs(actual - expected) <= (tol.atol ?? 1e-6) + (tol.rtol ?? 1e-5) * Math.abs(expected),
      `${where}: ${actual} vs ${expected}`,
    );
  } else {
    assert.deepEqual(actual, expected, where);
  }
}
