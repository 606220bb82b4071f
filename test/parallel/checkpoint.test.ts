// Sharded checkpoints (src/parallel/checkpoint): saved by every rank of a 4-rank ZeRO-3 job, read
// back under other plans and sizes with the same next step (model, AdamW state, data position and
// RNG resharded); merged into the folder save_pretrained writes; checkpoint-STEP rotation.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { torch } from "../../src/index.js";
import { load_file } from "../../src/safetensors.js";
import { checkpoints, latest_checkpoint, merge_checkpoint, readMetadata, rotate_checkpoints } from "../../src/parallel/checkpoint/index.js";
import { assertOk, assertRelClose, here, runJob } from "./_job.js";

const script = path.join(here, "workers", "checkpoint_tiny.ts");
const dir = mkdtempSync(path.join(os.tmpdir(), "tessera-checkpoint-"));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Report {
  rank: number;
  next: number;
  trainer_state: { global_step: number } | null;
  plan: { zero: number; dp: number } | null;
}

test(
  "a 4-rank ZeRO-3 checkpoint resumes on 2 ranks (ZeRO-1, ZeRO-0) and in one process with the same next step; merged, it is save_pretrained's folder",
  { timeout: 600_000 },
  () => {
    const ckpt = path.join(dir, "checkpoint-2");
    const saved = runJob<Report>(script, ["save", ckpt], 4, { zero: 3 });
    assertOk(saved, 4, "save on 4 ranks");
    assert.equal(saved.reports[0].plan?.zero, 3);
    const meta = readMetadata(ckpt);
    assert.equal(meta.world_size, 4);
    assert.deepEqual(readdirSync(ckpt).filter((f) => f.startsWith("rank-")).length, 4, "every rank wrote its own file");
    const layer = meta.pieces.find((p) => p.name === "model.layers.0#0")!;
    assert.equal(layer.shard_size, 4);
    assert.deepEqual(layer.writers, [0, 1, 2, 3]);
    assert.deepEqual(layer.optimizer?.chunked, ["exp_avg", "exp_avg_sq"]);
    const expected = saved.reports.map((r) => r.next);

    for (const [nproc, plan] of [
      [2, { zero: 1 }],
      [2, { zero: 0 }],
      [1, null],
    ] as const) {
      const what = `load on ${nproc} rank(s) under ${JSON.stringify(plan)}`;
      const loaded = runJob<Report>(script, ["load", ckpt], nproc, plan);
      assertOk(loaded, nproc, what);
      assert.deepEqual(loaded.reports[0].trainer_state, { global_step: 2 });
      assertRelClose(
        loaded.reports.map((r) => r.next),
        expected.slice(0, nproc),
        1e-5,
        what,
      );
    }

    const merged = path.join(dir, "merged");
    merge_checkpoint(ckpt, merged);
    const a = load_file(path.join(merged, "model.safetensors"));
    const b = load_file(path.join(`${ckpt}-pretrained`, "model.safetensors"));
    assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), "the tied output weight is stored once, as save_pretrained does");
    for (const k of Object.keys(b)) assert.ok(torch.equal(a[k], b[k]), k);
    assert.ok(readdirSync(merged).includes("config.json"));
  },
);

test("checkpoint-STEP folders: only complete ones count, the newest is the latest, rotation keeps the K newest", () => {
  const out = path.join(dir, "rotation");
  for (const step of [5, 10, 15, 20]) {
    mkdirSync(path.join(out, `checkpoint-${step}`), { recursive: true });
    if (step !== 20) writeFileSync(path.join(out, `checkpoint-${step}`, "tessera_checkpoint.json"), "{}");
  }
  mkdirSync(path.join(out, ".checkpoint-25.partial"));
  assert.deepEqual(
    checkpoints(out).map((c) => c.step),
    [5, 10, 15],
  );
  assert.equal(latest_checkpoint(out), path.join(out, "checkpoint-15"));
  assert.deepEqual(rotate_checkpoints(out, 2), [path.join(out, "checkpoint-5")]);
  assert.deepEqual(
    checkpoints(out).map((c) => c.step),
    [10, 15],
  );
  assert.equal(latest_checkpoint(path.join(dir, "nothing-here")), null);
});
