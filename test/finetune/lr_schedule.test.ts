// train.ts --lr-scheduler-type / --warmup-ratio (HF Trainer's names): the learning rate of every step,
// as TensorBoard records it, is transformers' get_cosine/linear_schedule_with_warmup's; bad values are
// usage errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { torch } from "../../src/index.js";
import { main as prepareMain } from "../../examples/finetune/prepare_dataset.js";
import { main as trainMain } from "../../examples/finetune/train.js";
import { readEventFile } from "../tensorboard/read_events.js";
import { runPython } from "../helpers/oracle.js";
import { quiet } from "./_tutorial_job.js";

torch.set_num_threads(1);

test("cosine and linear schedules with warmup give transformers' learning rate at every step", async () => {
  const dir = mkdtempSync(join(tmpdir(), "lr-schedule-"));
  try {
    const dataset = join(dir, "dataset.pt");
    assert.equal((await quiet(() => prepareMain(["--out", dataset]))).code, 0);
    const py = runPython(`
from transformers import get_cosine_schedule_with_warmup, get_linear_schedule_with_warmup
for name, make in (("cosine", get_cosine_schedule_with_warmup), ("linear", get_linear_schedule_with_warmup)):
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    s = make(opt, 2, 8)
    lrs = []
    for _ in range(8):
        lrs.append(s.get_last_lr()[0]); opt.step(); s.step()
    out[name] = lrs
`);
    for (const kind of ["cosine", "linear"] as const) {
      const runs = join(dir, `runs-${kind}`);
      const r = await quiet(() =>
        trainMain([
          "--dataset",
          dataset,
          "--max-steps",
          "8",
          "--lr",
          "1e-3",
          "--lr-scheduler-type",
          kind,
          "--warmup-ratio",
          "0.25",
          "--log-interval",
          "1",
          "--save-model-dir",
          join(dir, `model-${kind}`),
          "--tensorboard-dir",
          runs,
        ]),
      );
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, new RegExp(`lr 0\\.001 \\(${kind}, 2 warmup steps\\)`));
      const events = readEventFile(join(runs, readdirSync(runs)[0]!));
      const lrs = events.flatMap((e) => e.values.filter((v) => v.tag === "train/learning_rate").map((v) => v.simple_value!));
      assert.equal(lrs.length, 8);
      (py[kind] as number[]).forEach((want, i) =>
        assert.ok(Math.abs(lrs[i] - Math.fround(want)) <= 1e-9, `${kind} step ${i + 1}: ${lrs[i]} vs transformers' ${want}`),
      );
    }
    const bad = await quiet(() => trainMain(["--dataset", dataset, "--lr-scheduler-type", "step"]));
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--lr-scheduler-type must be constant, linear or cosine; got 'step'/);
    const warm = await quiet(() => trainMain(["--dataset", dataset, "--warmup-ratio", "0.1"]));
    assert.equal(warm.code, 2);
    assert.match(warm.err, /--warmup-ratio needs --lr-scheduler-type linear or cosine/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
