import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, hostname } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { SummaryWriter } from "../../src/torch/utils/tensorboard/index.js";
import { crc32c, maskedCrc32c } from "../../src/torch/utils/tensorboard/crc32c.js";
import { readEventFile } from "./read_events.js";

test("crc32c matches the standard check values", () => {
  // RFC 3720 B.4 / the CRC-32C catalogue check value of "123456789".
  assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  // TensorFlow's masking of crc32c("") == 0: rotate right 15, add 0xa282ead8.
  assert.equal(maskedCrc32c(new Uint8Array(0)), 0xa282ead8);
});

test("scalars and text round-trip through the event file with valid CRCs", () => {
  const dir = mkdtempSync(join(tmpdir(), "tb-"));
  const writer = new SummaryWriter(dir, { max_queue: 2 });
  assert.equal(writer.get_logdir(), dir);
  writer.add_scalar("train/loss", 2.5, 1, 1000.25);
  writer.add_scalar("train/loss", 1.25, 2);
  writer.add_scalar("train/lr", { item: () => 3e-4 }, 2);
  writer.add_text("config", "batch_size=8", 0);
  writer.add_scalar("neg", -1, -3);
  writer.close();
  writer.close();
  assert.throws(() => writer.add_scalar("x", 1, 1), /after close\(\)/);

  const files = readdirSync(dir);
  assert.equal(files.length, 1);
  assert.match(files[0]!, new RegExp(`^events\\.out\\.tfevents\\.\\d{10}\\.${hostname().replace(/[.]/g, "\\.")}\\.${process.pid}\\.\\d+$`));
  const events = readEventFile(join(dir, files[0]!));
  assert.equal(events[0]!.file_version, "brain.Event:2");
  assert.deepEqual(
    events.slice(1).map((e) => [e.step, e.values[0]!.tag]),
    [
      [1, "train/loss"],
      [2, "train/loss"],
      [2, "train/lr"],
      [0, "config"],
      [-3, "neg"],
    ],
  );
  assert.equal(events[1]!.wall_time, 1000.25);
  assert.equal(events[1]!.values[0]!.simple_value, 2.5);
  assert.equal(events[2]!.values[0]!.simple_value, 1.25);
  assert.equal(events[3]!.values[0]!.simple_value, Math.fround(3e-4));
  assert.deepEqual(events[4]!.values[0], { tag: "config", text: "batch_size=8", plugin: "text" });
  assert.ok(Math.abs(events[2]!.wall_time - Date.now() / 1000) < 60);
});

test("each event is in the file when add_* returns, whatever max_queue says; bad steps are refused", () => {
  const dir = mkdtempSync(join(tmpdir(), "tb-"));
  const writer = new SummaryWriter({ log_dir: dir, max_queue: 100, flush_secs: 1000, filename_suffix: ".v2" });
  assert.ok(writer.file.endsWith(".v2"));
  writer.add_scalar("a", 1, 1);
  assert.equal(readEventFile(writer.file).length, 2);
  writer.flush();
  assert.equal(readEventFile(writer.file).length, 2);
  assert.throws(() => writer.add_scalar("a", 1, 1.5), /global_step of 'a' must be an integer, got 1.5/);
  writer.close();
});

// Issue 19, finding 13: scalars logged before Ctrl-C, SIGTERM or SIGKILL are in the event file.
test("scalars logged before SIGINT, SIGTERM or SIGKILL are all in the event file", async () => {
  const writerModule = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "src", "torch", "utils", "tensorboard", "index.ts");
  for (const signal of ["SIGINT", "SIGTERM", "SIGKILL"] as const) {
    const dir = mkdtempSync(join(tmpdir(), "tb-signal-"));
    const script = join(dir, "log.mts");
    writeFileSync(
      script,
      `
import { SummaryWriter } from ${JSON.stringify(writerModule)};
const w = new SummaryWriter(${JSON.stringify(join(dir, "runs"))});
for (let step = 1; step <= 25; step++) w.add_scalar("train/loss", 1 / step, step);
console.log("logged");
setTimeout(() => undefined, 60_000);
`,
    );
    const child = spawn(process.execPath, ["--import", "tsx", script], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((ready) => child.stdout.on("data", (d: Buffer) => d.toString().includes("logged") && ready()));
    const exited = new Promise<NodeJS.Signals | null>((done) => child.on("exit", (_code, sig) => done(sig)));
    child.kill(signal);
    assert.equal(await exited, signal);
    const files = readdirSync(join(dir, "runs"));
    const events = readEventFile(join(dir, "runs", files[0]!));
    const steps = events.slice(1).map((e) => [e.step, e.values[0]!.simple_value]);
    assert.deepEqual(
      steps,
      Array.from({ length: 25 }, (_, i) => [i + 1, Math.fround(1 / (i + 1))]),
      `${signal}: logged scalars lost`,
    );
    rmSync(dir, { recursive: true, force: true });
  }
});
