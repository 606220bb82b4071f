import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TrainingLogger, formatDuration, progressLine, formatBytes } from "../../src/transformers/trainer_log/index.js";
import { peakFlopsFor } from "../../src/parallel/planner/index.js";
import { SummaryWriter } from "../../src/torch/utils/tensorboard/index.js";
import { readEventFile } from "../tensorboard/read_events.js";

test("log lines follow the tutorial's format with measured counts, and TensorBoard gets the scalars", () => {
  const lines: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), "tlog-"));
  const writer = new SummaryWriter(dir);
  const logger = new TrainingLogger({
    total_steps: 5,
    log_interval: 2,
    flops_per_token: 6e6,
    peak_flops: 1e12,
    progress: false,
    memory: () => ({ bytes: 3 * 2 ** 20, source: "process peak RSS" }),
    writer,
    print: (l) => lines.push(l),
  });
  const losses = [4, 3.5, 3, 2.5, 2];
  let reads = 0;
  for (const loss of losses) logger.record({ tokens: 64, non_pad_tokens: 40, lr: 1e-3, loss: () => (reads++, loss) });
  // Only steps 2, 4 and the last (5) read the loss.
  assert.equal(reads, 3);
  assert.equal(lines.length, 3);
  assert.match(
    lines[0]!,
    /^\[Step 2\/5\] \| Loss: 3\.5000 \| Duration: \d+\.\d\d s \| Throughput: [\d,]+ tokens\/s \([\d,]+ non-pad\) \| MFU \d+\.\d %$/,
  );
  assert.match(lines[2]!, /^\[Step 5\/5\] \| Loss: 2\.0000 /);
  const summary = logger.finish("out/model");
  assert.equal(summary.steps, 5);
  assert.equal(summary.tokens, 320);
  assert.equal(summary.non_pad_tokens, 200);
  assert.deepEqual(summary.losses, [
    [2, 3.5],
    [4, 2.5],
    [5, 2],
  ]);
  assert.match(lines[3]!, /Training summary[\s\S]*peak memory: +3\.0 MiB \(process peak RSS\)[\s\S]*model saved to: +out\/model/);
  writer.close();
  const events = readEventFile(join(dir, readdirSync(dir)[0]!));
  const losses_tb = events.flatMap((e) => e.values.filter((v) => v.tag === "train/loss").map((v) => [e.step, v.simple_value]));
  assert.deepEqual(losses_tb, [
    [2, 3.5],
    [4, 2.5],
    [5, 2],
  ]);
  const tags = new Set(events.flatMap((e) => e.values.map((v) => v.tag)));
  for (const t of ["train/learning_rate", "train/throughput_tokens_per_s", "train/peak_memory_bytes", "train/mfu_percent"])
    assert.ok(tags.has(t), t);
});

test("MFU is n/a without a known peak; bad step counts are refused", () => {
  const lines: string[] = [];
  const logger = new TrainingLogger({
    total_steps: 1,
    log_interval: 1,
    flops_per_token: 1,
    peak_flops: null,
    progress: false,
    memory: () => ({ bytes: 0, source: "process peak RSS" }),
    print: (l) => lines.push(l),
  });
  logger.record({ tokens: 1, non_pad_tokens: 1, lr: 0, loss: () => 1 });
  assert.match(lines[0]!, /\| MFU n\/a$/);
  assert.throws(
    () =>
      new TrainingLogger({
        total_steps: 0,
        log_interval: 1,
        flops_per_token: 1,
        peak_flops: null,
        memory: () => ({ bytes: 0, source: "process peak RSS" }),
      }),
    /total_steps must be a positive integer, got 0/,
  );
});

test("progress bar, durations, peaks and byte formatting", () => {
  assert.equal(formatDuration(75), "01:15");
  assert.equal(formatDuration(3725), "1:02:05");
  assert.equal(progressLine(25, 100, 10, 10), " 25% |███       | 25/100 [00:10<00:30, 2.50 step/s]");
  assert.equal(progressLine(0, 100, 0, 4), "  0% |    | 0/100 [00:00<?, ? step/s]");
  assert.equal(peakFlopsFor("NVIDIA H100 80GB HBM3"), 989e12);
  assert.equal(peakFlopsFor("NVIDIA A100-SXM4-40GB"), 312e12);
  assert.equal(peakFlopsFor("cpu"), null);
  assert.equal(formatBytes(1536), "1.5 KiB");
});
