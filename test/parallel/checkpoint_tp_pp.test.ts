// Checkpoints of tensor- and pipeline-parallel jobs (src/parallel/checkpoint): saved under tp 2,
// pp 2, pp 2 × tp 2 and dp 2 × tp 2 (ZeRO-3), each piece written once (a TP slice by its TP rank, a
// stage's pieces by its ranks, what a TP group replicates by its lowest rank), and read back under
// another of these plans or in one process with the same next step as the uninterrupted one-process
// run: the loss to rel 1e-5 and the weights after that step (AdamW's state resharded too); merged
// into an HF folder that equals the job's save_pretrained and that Python transformers loads with the
// one-process model's logits.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { torch } from "../../src/index.js";
import { load_file, safe_open } from "../../src/safetensors.js";
import { merge_checkpoint, readMetadata } from "../../src/parallel/checkpoint/index.js";
import { runPython } from "../helpers/oracle.js";
import { assertOk, assertRelClose, here, runJob } from "./_job.js";

const script = path.join(here, "workers", "checkpoint_tiny.ts");
const dir = mkdtempSync(path.join(os.tmpdir(), "tessera-checkpoint-tp-pp-"));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Report {
  rank: number;
  next: number;
  trainer_state: { global_step: number } | null;
  plan: { tp: number; pp: number; zero: number } | null;
}

const PLANS = {
  one: { ranks: 1, plan: null },
  tp2: { ranks: 2, plan: { tp: 2 } },
  pp2: { ranks: 2, plan: { pp: 2 } },
  pp2tp2: { ranks: 4, plan: { pp: 2, tp: 2 } },
  dp2tp2: { ranks: 4, plan: { tp: 2, zero: 3 } },
} as const;
type PlanName = keyof typeof PLANS;

const ckpt = (name: PlanName): string => path.join(dir, `checkpoint-${name}`);
const afterStep = (what: string): string => path.join(dir, `after-${what}`);

/** Runs the worker under `plan`: saving a checkpoint, or loading `from`'s; returns the reports. */
function job(mode: "save" | "load", plan: PlanName, from: PlanName = plan): Report[] {
  const what = mode === "save" ? `save under ${plan}` : `load ${from}'s checkpoint under ${plan}`;
  const { ranks, plan: p } = PLANS[plan];
  const r = runJob<Report>(script, [mode, ckpt(from), afterStep(mode === "save" ? plan : `${from}-as-${plan}`)], ranks, p);
  assertOk(r, ranks, what);
  if (p !== null)
    for (const [k, v] of Object.entries(p)) assert.equal(r.reports[0].plan?.[k as keyof Report["plan"]], v, `${what}: applied ${k}`);
  assert.equal(new Set(r.reports.map((x) => x.next)).size, 1, `${what}: every rank reports the job's loss`);
  return r.reports;
}

/** The largest relative difference (by tensor norm) between two folders' weights, which must have the same names and shapes. */
function worstWeights(a: string, b: string): number {
  const x = load_file(path.join(a, "model.safetensors"));
  const y = load_file(path.join(b, "model.safetensors"));
  assert.deepEqual(Object.keys(x).sort(), Object.keys(y).sort(), `${a} and ${b} hold the same tensors`);
  let worst = 0;
  for (const [k, v] of Object.entries(y)) {
    assert.deepEqual(x[k].shape, v.shape, k);
    worst = Math.max(worst, (x[k].sub(v).norm().item() as number) / Math.max(v.norm().item() as number, 1e-30));
  }
  return worst;
}

let reference: number | null = null;

test(
  "saves under tp 2, pp 2, pp 2 × tp 2 and dp 2 × tp 2 (ZeRO-3) write each slice of each HF parameter once, on the ranks that hold it",
  { timeout: 300_000 },
  () => {
    reference = job("save", "one")[0].next;
    for (const name of ["tp2", "pp2", "pp2tp2", "dp2tp2"] as const) {
      assertRelClose([job("save", name)[0].next], [reference], 1e-5, `the step after the checkpoint under ${name}`);
      const meta = readMetadata(ckpt(name));
      const files = meta.files.map((f) => safe_open(path.join(ckpt(name), f)));
      try {
        const written = files.flatMap((f, rank) =>
          f
            .keys()
            .filter((k) => k.startsWith("model/"))
            .map((k) => `${rank}:${k}`),
        );
        const expected = meta.pieces.flatMap((p) => p.writers.map((rank) => `${rank}:model/${p.name}`));
        assert.deepEqual(written.sort(), expected.sort(), `${name}: every chunk is in its writer's file, and only there`);
      } finally {
        for (const f of files) f.close();
      }
    }

    // tp 2: the q projection's rows and the tied vocabulary embedding's are split in halves, one per TP rank.
    const tp = readMetadata(ckpt("tp2"));
    const q = tp.pieces.filter((p) => p.entries[0].names[0] === "model.layers.0.self_attn.q_proj.weight");
    assert.deepEqual(
      q.map((p) => [p.name, p.writers, p.entries[0].shape, p.entries[0].slice]),
      [
        ["model.layers.0.self_attn.q_proj.weight@tp0", [0], [16, 32], { dim: 0, full: [32, 32], ranges: [[0, 16]] }],
        ["model.layers.0.self_attn.q_proj.weight@tp1", [1], [16, 32], { dim: 0, full: [32, 32], ranges: [[16, 16]] }],
      ],
    );
    const o = tp.pieces.find((p) => p.name === "model.layers.0.self_attn.o_proj.weight@tp1")!;
    assert.deepEqual(
      o.entries[0].slice,
      { dim: 1, full: [32, 32], ranges: [[16, 16]] },
      "a row-parallel weight is split along its input features",
    );
    assert.deepEqual(o.optimizer?.chunked, ["exp_avg", "exp_avg_sq"], "AdamW's state is sliced as the weight");
    const norm = tp.pieces.filter((p) => p.entries[0].names.includes("model.norm.weight"));
    assert.deepEqual(
      norm.map((p) => [p.name, p.writers, p.entries[0].slice]),
      [["model.norm.weight", [0], undefined]],
      "a weight the TP group replicates is written once",
    );
    const embed = tp.pieces.filter((p) => p.entries[0].names.includes("lm_head.weight"));
    assert.deepEqual(
      embed.map((p) => p.entries[0].names),
      [
        ["model.embed_tokens.weight", "lm_head.weight"],
        ["model.embed_tokens.weight", "lm_head.weight"],
      ],
    );

    // pp 2: each stage's pieces only, written by that stage's rank; the tied weight by the first stage.
    const pp = readMetadata(ckpt("pp2"));
    assert.deepEqual(
      pp.pieces.map((p) => [p.name, p.writers]),
      [
        ["(root)#0@pp0", [0]],
        ["model.layers.0#0@pp0", [0]],
        ["(root)#0@pp1", [1]],
        ["model.layers.1#0@pp1", [1]],
      ],
    );
    assert.deepEqual(
      pp.pieces[0].entries.map((e) => e.names),
      [["model.embed_tokens.weight", "lm_head.weight"]],
    );

    // pp 2 × tp 2 on 4 ranks (stage-major, TP innermost): stage 1's TP slices are written by ranks 2 and 3.
    const pptp = readMetadata(ckpt("pp2tp2"));
    const sliced = pptp.pieces.filter((p) => p.name.startsWith("model.layers.1#") && p.entries.some((e) => e.slice !== undefined));
    assert.deepEqual(
      sliced.map((p) => [p.name.replace(/#\d+/, ""), p.writers]),
      [
        ["model.layers.1@pp1@tp0", [2]],
        ["model.layers.1@pp1@tp1", [3]],
      ],
    );

    // dp 2 × tp 2 under ZeRO-3: each TP rank's slices split into 2 chunks, one per data-parallel rank.
    const dptp = readMetadata(ckpt("dp2tp2"));
    const layer = dptp.pieces.filter((p) => p.name.startsWith("model.layers.0#") && p.name.includes("@tp"));
    assert.deepEqual(
      layer.map((p) => [p.name.slice(p.name.indexOf("@")), p.shard_size, p.writers]),
      [
        ["@tp0", 2, [0, 2]],
        ["@tp1", 2, [1, 3]],
      ],
    );
  },
);

test(
  "a checkpoint of one plan resumes under another with the uninterrupted run's next loss and weights (rel 1e-5)",
  { timeout: 300_000 },
  () => {
    assert.ok(reference !== null, "the saves above ran first");
    const cases: Array<[PlanName, PlanName]> = [
      ["tp2", "pp2"],
      ["tp2", "one"],
      ["pp2", "tp2"],
      ["pp2tp2", "one"],
      ["dp2tp2", "pp2tp2"],
    ];
    for (const [from, to] of cases) {
      const what = `${from}'s checkpoint under ${to}`;
      const reports = job("load", to, from);
      assert.deepEqual(reports[0].trainer_state, { global_step: 2 }, what);
      assertRelClose([reports[0].next], [reference], 1e-5, `${what}: the next step's loss`);
      const worst = worstWeights(afterStep(`${from}-as-${to}`), afterStep("one"));
      assert.ok(worst <= 1e-5, `${what}: the weights after the next step differ from the uninterrupted run's by ${worst} (relative norm)`);
    }
  },
);

test(
  "merge-checkpoint of a pp 2 × tp 2 checkpoint is the job's save_pretrained folder, and transformers loads it with the one-process model's logits",
  { timeout: 300_000 },
  () => {
    const merged = path.join(dir, "merged-pp2tp2");
    merge_checkpoint(ckpt("pp2tp2"), merged);
    const a = load_file(path.join(merged, "model.safetensors"));
    const b = load_file(path.join(`${ckpt("pp2tp2")}-pretrained`, "model.safetensors"));
    assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), "the full HF names, the tied output weight once");
    for (const k of Object.keys(b)) assert.ok(torch.equal(a[k], b[k]), k);

    const got = runPython(
      String.raw`
import transformers
transformers.logging.set_verbosity_error()
ids = torch.arange(3, 27).reshape(2, 12)
def logits(folder):
    m = transformers.LlamaForCausalLM.from_pretrained(folder, torch_dtype=torch.float32).eval()
    with torch.no_grad():
        return m(ids).logits
a, b = logits(merged), logits(single)
out["rel"] = float((a - b).norm() / b.norm())
out["vocab"] = int(a.shape[-1])
`,
      { merged, single: `${ckpt("one")}-pretrained` },
    );
    assert.equal(got.vocab, 96);
    assert.ok(
      (got.rel as number) <= 1e-5,
      `the merged model's logits differ from the one-process model's by ${String(got.rel)} (relative norm)`,
    );
  },
);
