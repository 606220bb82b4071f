// Issue 19, finding 1: a typed_array() view stays valid when its tensor is given another storage
// (t.set_(x), t.data = x, module.to(float64)), as Python's numpy() does: the view keeps the old
// storage and its values, and the tensor has the new ones. Each attack runs in a child process, so
// a use-after-free (SIGSEGV) fails the test instead of ending the runner; the freed memory is
// reused by many allocations before the view is read.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { repoRoot } from "../helpers/oracle.js";

function runChild(body: string): { status: number | null; signal: NodeJS.Signals | null; out: string; err: string } {
  const dir = mkdtempSync(path.join(tmpdir(), "view-life-"));
  try {
    const script = path.join(dir, "attack.mts");
    writeFileSync(script, `import { torch } from ${JSON.stringify(path.join(repoRoot, "src/index.ts"))};\n${body}`);
    const r = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", script], { encoding: "utf8", timeout: 120_000 });
    return { status: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Reuses freed memory: many tensors of the old storage's size written with 7s, then collected. */
const CHURN = `
const churn = () => { for (let i = 0; i < 200; i++) torch.full([1 << 16], 7.0).add_(1); (globalThis as { gc?: () => void }).gc?.(); };
`;

test("t.set_(x) and t.data = x: the old view still reads the old values; the tensor reads the new", () => {
  const r = runChild(`${CHURN}
const t = torch.arange(1 << 16, { dtype: torch.float32 });
const view = t.typed_array();
t.set_(torch.zeros(3));
churn();
const u = torch.arange(1 << 16, { dtype: torch.float32 }).mul(2);
const view2 = u.typed_array();
u.data = torch.ones(2);
churn();
console.log(JSON.stringify([view[0], view[12345], view[(1 << 16) - 1], t.tolist(), view2[0], view2[100], view2[(1 << 16) - 1], u.tolist()]));
`);
  assert.equal(r.signal, null, `the child died of ${r.signal}: ${r.err}`);
  assert.equal(r.status, 0, r.err);
  assert.deepEqual(JSON.parse(r.out.trim()), [0, 12345, 65535, [0, 0, 0], 0, 200, 131070, [1, 1]]);
});

test("module.to(float64): a parameter's old view still reads the float32 values", () => {
  const r = runChild(`${CHURN}
torch.manual_seed(0);
const lin = new torch.nn.Linear(256, 256);
const before = Array.from(lin.weight.detach().reshape(-1).typed_array().slice(0, 4));
const view = lin.weight.detach().typed_array();
lin.to(torch.float64);
churn();
console.log(JSON.stringify([Array.from(view.slice(0, 4)), before, lin.weight.dtype.name, (lin.weight.detach().reshape(-1).tolist() as number[]).slice(0, 4).map(Math.fround)]));
`);
  assert.equal(r.signal, null, `the child died of ${r.signal}: ${r.err}`);
  assert.equal(r.status, 0, r.err);
  const [view, before, dtype, after] = JSON.parse(r.out.trim()) as [number[], number[], string, number[]];
  assert.deepEqual(view, before);
  assert.equal(dtype, "float64");
  assert.deepEqual(after, before);
});
