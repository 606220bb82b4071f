// The tensor-parallel equivalence cases, shared by the tp_*.test.ts files: each family's tiny model
// (test/parallel/workers/train_tp.ts) trained by one process and by each plan — tp 2 and 4 with and
// without sequence parallelism, dp 2 × tp 2 under ZeRO-1 and ZeRO-3 — must give, within 1e-5
// relative (fp32): the loss and the clipped global gradient norm at every step, the first step's
// gradients, the saved weights (same keys and shapes: no vocabulary padding), and the same greedy
// tokens; and each rank's collectives in a step must move the bytes the planner's communication
// model predicts (within 5 %).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { communicationVolume } from "../../src/parallel/planner/communication.js";
import { hardwarePreset, makeProblem, planFromJson, profileFromConfig } from "../../src/parallel/planner/index.js";
import { runPython, type PyValue } from "../helpers/oracle.js";
import { assertOk, assertRelClose, here, runJob } from "./_job.js";

const script = path.join(here, "workers", "train_tp.ts");

interface Report {
  rank: number;
  losses: number[];
  norms: number[];
  tokens: number[];
  plan: Record<string, unknown>;
  traffic: Record<string, Record<string, number>>;
}

export interface TpCase {
  name: string;
  ranks: number;
  plan: Record<string, unknown>;
}

export const TP_CASES: TpCase[] = [
  { name: "tp2-sp", ranks: 2, plan: { tp: 2, sequence_parallel: true } },
  { name: "tp2", ranks: 2, plan: { tp: 2, sequence_parallel: false } },
  { name: "tp4-sp", ranks: 4, plan: { tp: 4, sequence_parallel: true } },
  { name: "tp4", ranks: 4, plan: { tp: 4, sequence_parallel: false } },
  { name: "dp2-tp2-zero1", ranks: 4, plan: { tp: 2, zero: 1, sequence_parallel: true } },
  { name: "dp2-tp2-zero3", ranks: 4, plan: { tp: 2, zero: 3, sequence_parallel: false } },
];

/** The planner's message bytes per step for the plan a job applied, by group and kind. */
function predictedTraffic(folder: string, plan: Record<string, unknown>, ranks: number): Record<string, Record<string, number>> {
  const config = JSON.parse(readFileSync(path.join(folder, "config.json"), "utf8")) as Record<string, unknown>;
  const problem = makeProblem(profileFromConfig(config), ranks, {
    hardware: hardwarePreset("cpu"),
    seqLen: 12,
    globalBatch: 8,
    precision: "fp32",
  });
  return communicationVolume(problem, planFromJson(plan, "test"));
}

/** Measured bytes by the planner's groups: the TP group and the ranks sharing a k/v head count as "tp". */
function measuredTraffic(r: Report): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = { tp: {}, dp: {} };
  const kinds: Record<string, string> = {
    all_reduce: "all_reduce",
    all_gather_into_tensor: "all_gather",
    reduce_scatter_tensor: "reduce_scatter",
  };
  for (const [group, ops] of Object.entries(r.traffic)) {
    const g = group === "tp_sub" ? "tp" : group;
    assert.ok(g === "tp" || g === "dp", `rank ${r.rank}: a collective on an unexpected group ${group}: ${JSON.stringify(ops)}`);
    for (const [op, bytes] of Object.entries(ops)) {
      if (op.includes("#")) continue;
      const kind = kinds[op];
      assert.ok(kind !== undefined, `rank ${r.rank}: unexpected collective ${op}`);
      out[g][kind] = (out[g][kind] ?? 0) + bytes;
    }
  }
  return out;
}

/** Registers one family's tests: the plans of TP_CASES, then the saved folders and gradients in Python. */
export function tensorParallelSuite(family: string, pythonClass: string | null, cases: TpCase[] = TP_CASES): void {
  const out = mkdtempSync(path.join(os.tmpdir(), `tessera-tp-${family}-`));
  after(() => rmSync(out, { recursive: true, force: true }));
  let reference: Report | null = null;
  const single = (): Report => {
    if (reference !== null) return reference;
    const r = runJob<Report>(script, [family, path.join(out, "single")], 1, null);
    assertOk(r, 1, `${family}: one process`);
    reference = r.reports[0];
    return reference;
  };
  const ran: string[] = [];

  for (const c of cases) {
    test(
      `${family} ${c.name}: ${JSON.stringify(c.plan)} on ${c.ranks} ranks trains, generates and communicates as planned`,
      { timeout: 300_000 },
      () => {
        const want = single();
        const folder = path.join(out, c.name);
        const r = runJob<Report>(script, [family, folder], c.ranks, c.plan);
        assertOk(r, c.ranks, `${family} ${c.name}`);
        ran.push(c.name);
        const predicted = predictedTraffic(folder, r.reports[0].plan, c.ranks);
        for (const rep of r.reports) {
          const what = `${family} ${c.name} rank ${rep.rank}`;
          for (const [k, v] of Object.entries(c.plan)) assert.equal(rep.plan[k], v, `${what}: applied ${k}`);
          assert.equal(rep.plan.dp, c.ranks / (c.plan.tp as number), `${what}: dp`);
          assertRelClose(rep.losses, want.losses, 1e-5, `${what} losses`);
          assertRelClose(rep.norms, want.norms, 1e-5, `${what} gradient norms`);
          assert.deepEqual(rep.tokens, want.tokens, `${what}: generated tokens`);
          const measured = measuredTraffic(rep);
          for (const g of ["tp", "dp"] as const) {
            for (const kind of ["all_reduce", "all_gather", "reduce_scatter"]) {
              const m = measured[g][kind] ?? 0;
              const p = predicted[g][kind as keyof (typeof predicted)["tp"]];
              assert.ok(
                Math.abs(m - p) <= 0.05 * p || (m === 0 && p === 0),
                `${what}: ${g} ${kind} moved ${m} bytes, the planner predicts ${p}`,
              );
            }
          }
        }
      },
    );
  }

  test(
    `${family}: the saved folders hold the one-process weights (no padding) and the first step's gradients`,
    { timeout: 300_000 },
    () => {
      assert.ok(ran.length > 0, "the plans above ran first");
      const folders: Record<string, PyValue> = {};
      for (const name of ran) folders[name] = path.join(out, name);
      const got = runPython(
        String.raw`
import os
from safetensors.torch import load_file
def worst(a, b, name):
    assert set(a) == set(b), (name, sorted(set(a) ^ set(b)))
    for k in a:
        assert a[k].shape == b[k].shape, (name, k, tuple(a[k].shape), tuple(b[k].shape))
    return max(float((a[k] - b[k]).norm() / max(float(b[k].norm()), 1e-30)) for k in a)
ref = load_file(os.path.join(single, "model.safetensors"))
ref_grads = load_file(os.path.join(single, "grads.safetensors"))
for name, d in folders.items():
    grads = os.path.join(d, "grads.safetensors")
    out[name] = {"weights": worst(load_file(os.path.join(d, "model.safetensors")), ref, name),
                 "grads": worst(load_file(grads), ref_grads, name) if os.path.exists(grads) else None}
if cls is not None:
    import transformers
    transformers.logging.set_verbosity_error()
    m = getattr(transformers, cls).from_pretrained(folders[next(iter(folders))], torch_dtype=torch.float32)
    out["hf_vocab"] = int(m.get_output_embeddings().weight.shape[0])
`,
        { folders, single: path.join(out, "single"), cls: pythonClass },
      );
      for (const name of ran) {
        const v = got[name] as { weights: number; grads: number | null };
        assert.ok(v.weights <= 1e-5, `${family} ${name}: saved weights differ from one process's by ${v.weights} (relative norm)`);
        if (v.grads !== null) assert.ok(v.grads <= 1e-5, `${family} ${name}: first-step gradients differ by ${v.grads}`);
        else assert.match(name, /zero/, `${family} ${name}: gradients were written`);
      }
      if (pythonClass !== null)
        assert.equal(
          got.hf_vocab,
          JSON.parse(readFileSync(path.join(out, ran[0], "config.json"), "utf8")).vocab_size,
          "transformers loads the folder with the real vocabulary",
        );
    },
  );
}
