// Python PyTorch as the test oracle. runPython() hands tensors to a Python snippet (raw bytes in a
// temp folder, no numpy needed), runs it with the .venv interpreter, and returns the tensors and
// plain values the snippet put in `out`. assertClose() compares against them.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import assert from "node:assert/strict";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { torch } from "../../src/index.js";
import type { Tensor } from "../../src/torch/tensor.js";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const python = process.env.TESSERA_PYTHON ?? path.join(repoRoot, ".venv", "bin", "python");

export type PyValue = Tensor | number | boolean | string | null | PyValue[] | { [k: string]: PyValue };

const PRELUDE = String.raw`
import json, os, sys, torch
_dir = sys.argv[1]
_meta = json.load(open(os.path.join(_dir, "in.json")))
def _load(v):
    if isinstance(v, dict) and "__tensor__" in v:
        raw = bytearray(open(os.path.join(_dir, v["__tensor__"]), "rb").read())
        dt = getattr(torch, v["dtype"])
        t = torch.frombuffer(raw, dtype=dt) if len(raw) else torch.empty(0, dtype=dt)
        t = t.reshape(v["shape"]).clone()
        if v.get("requires_grad"): t.requires_grad_(True)
        return t
    if isinstance(v, list): return [_load(x) for x in v]
    if isinstance(v, dict): return {k: _load(x) for k, x in v.items()}
    return v
globals().update({k: _load(v) for k, v in _meta.items()})
out = {}
_n = [0]
def _dump(v):
    if isinstance(v, torch.Tensor):
        t = v.detach().cpu().contiguous()
        name = "o%d.bin" % _n[0]; _n[0] += 1
        open(os.path.join(_dir, name), "wb").write(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        return {"__tensor__": name, "dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape)}
    if isinstance(v, (list, tuple)): return [_dump(x) for x in v]
    if isinstance(v, dict): return {str(k): _dump(x) for k, x in v.items()}
    if isinstance(v, float) and v != v: return "nan"
    return v
`;

const POSTLUDE = String.raw`
json.dump(_dump(out), open(os.path.join(_dir, "out.json"), "w"))
`;

function isTensor(v: unknown): v is Tensor {
  return v instanceof torch.Tensor;
}

function dump(v: PyValue, dir: string, counter: { n: number }): unknown {
  if (isTensor(v)) {
    const t = v.detach().cpu().contiguous();
    const name = `i${counter.n++}.bin`;
    const bytes = t.numel() ? new Uint8Array(t.reshape(-1).view(torch.uint8).typed_array().buffer.slice(0)) : new Uint8Array();
    writeFileSync(path.join(dir, name), bytes);
    return { __tensor__: name, dtype: t.dtype.name, shape: t.shape, requires_grad: v.requires_grad };
  }
  if (Array.isArray(v)) return v.map((x) => dump(x, dir, counter));
  if (v !== null && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, dump(x as PyValue, dir, counter)]));
  return v;
}

function load(v: unknown, dir: string): PyValue {
  if (Array.isArray(v)) return v.map((x) => load(x, dir));
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (typeof o.__tensor__ === "string") {
      const raw = readFileSync(path.join(dir, o.__tensor__));
      const d = (torch as unknown as Record<string, unknown>)[o.dtype as string] as import("../../src/torch/dtype.js").dtype;
      return torch._C.fromBytes(new Uint8Array(raw), d, o.shape as number[]) as Tensor;
    }
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, load(x, dir)]));
  }
  if (v === "nan") return Number.NaN;
  return v as PyValue;
}

/** Runs `code` with the given variables bound; returns the `out` dict it fills. */
export function runPython(code: string, inputs: Record<string, PyValue> = {}, timeoutMs = 120_000): Record<string, PyValue> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "tessera-oracle-"));
  try {
    writeFileSync(path.join(dir, "in.json"), JSON.stringify(dump(inputs, dir, { n: 0 })));
    const script = path.join(dir, "run.py");
    writeFileSync(script, `${PRELUDE}\n${code}\n${POSTLUDE}`);
    const r = spawnSync(python, [script, dir], { encoding: "utf8", timeout: timeoutMs });
    if (r.status !== 0) throw new Error(`python oracle failed (${r.status ?? r.signal}):\n${r.stderr}`);
    return load(JSON.parse(readFileSync(path.join(dir, "out.json"), "utf8")), dir) as Record<string, PyValue>;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface CloseOptions {
  rtol?: number;
  atol?: number;
  msg?: string;
}

/** Asserts same shape and |a - e| <= atol + rtol * |e| elementwise (NaNs must match). */
export function assertClose(actual: Tensor, expected: Tensor, { rtol = 1e-5, atol = 1e-6, msg = "" }: CloseOptions = {}): void {
  const where = msg ? `${msg}: ` : "";
  assert.deepEqual(actual.shape, expected.shape, `${where}shape ${JSON.stringify(actual.shape)} != ${JSON.stringify(expected.shape)}`);
  const a = actual.detach().cpu().to(torch.float64);
  const e = expected.detach().cpu().to(torch.float64);
  if (a.numel() === 0) return;
  const bothNan = a.isnan().logical_and(e.isnan());
  const ok = a.sub(e).abs().le(e.abs().mul(rtol).add(atol)).logical_or(bothNan).logical_or(a.eq(e));
  if (!ok.all().item()) {
    const diff = a.sub(e).abs().nan_to_num(0, 0, 0).max().item();
    assert.fail(`${where}values differ (max abs diff ${diff}, rtol ${rtol}, atol ${atol})\nactual:   ${actual}\nexpected: ${expected}`);
  }
}
