// The embedded default learns its task: loss and held-out exact match after a few hundred steps.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { torch } from "../../src/index.js";
import { main as prepareMain } from "../../examples/finetune/prepare_dataset.js";
import { train } from "../../examples/finetune/train.js";
import { DEFAULT_HELDOUT_DATA } from "../../examples/finetune/lib/paths.js";

torch.set_num_threads(1);

test("400 steps on the embedded default: loss under 1.4 and held-out exact match above the untrained model's", async () => {
  const dir = mkdtempSync(join(tmpdir(), "skill-"));
  const dataset = join(dir, "dataset.pt");
  const log = console.log;
  console.log = () => undefined;
  try {
    assert.equal(await prepareMain(["--out", dataset]), 0);
    // The "upper" half of the held-out words (the task learned first).
    const upper = join(dir, "upper.jsonl");
    writeFileSync(
      upper,
      readFileSync(DEFAULT_HELDOUT_DATA, "utf8")
        .split("\n")
        .filter((l) => l.includes('"upper: '))
        .join("\n"),
    );
    const result = await train({
      // The main job's recipe (main.ts), over 400 steps: lr 1e-3, cosine decay after a 5 % warmup.
      model: null,
      dataset,
      batch_size: 16,
      block_size: 24,
      lr: 1e-3,
      lr_scheduler_type: "cosine",
      warmup_ratio: 0.05,
      epochs: 3,
      max_steps: 400,
      log_interval: 50,
      save_model_dir: join(dir, "model"),
      use_lora: false,
      lora_r: 8,
      eval_data: upper,
      tensorboard_dir: join(dir, "runs"),
      seed: 0,
      output_dir: dir,
      save_steps: null,
      save_total_limit: null,
      resume_from_checkpoint: null,
      save_on_interrupt: false,
      skip_nonfinite_loss: false,
    });
    const [, last] = result.losses.at(-1)!;
    // The loss's floor is ~0.6: the prompt's 4 random letters cost ln 26 each.
    assert.ok(last < 1.4, `loss after 400 steps: ${last}`);
    assert.ok(result.losses[0]![1] > last);
    assert.equal(result.skill_before!.exact_match, 0);
    assert.ok(result.skill_after!.exact_match >= 0.1, `exact match after training: ${result.skill_after!.exact_match}`);
  } finally {
    console.log = log;
  }
});
