// Training progress as people expect it from a PyTorch fine-tuning script:
//   [Step 40/1121] | Loss: 1.92 | Duration: 1.30 s | Throughput: 201,960 tokens/s (148,112 non-pad) | MFU 41 %
// a progress bar with ETA on a terminal (plain lines otherwise), TensorBoard scalars, and a summary.
import type { SummaryWriter } from "../../torch/utils/tensorboard/index.js";
import { formatBytes, type PeakMemory } from "./hardware.js";
import { progressLine } from "./progress.js";
import { ThroughputMeter, type Interval } from "./throughput.js";

export { peakMemory, formatBytes, type PeakMemory } from "./hardware.js";
export { progressLine, formatDuration } from "./progress.js";
export { ThroughputMeter, type Interval } from "./throughput.js";

export interface TrainingLoggerOptions {
  total_steps: number;
  /** Steps done before this run (one resumed from a checkpoint): step numbers continue from it. */
  initial_step?: number;
  log_interval: number;
  /** Model FLOPs of one training token (forward + backward), for MFU. */
  flops_per_token: number;
  /** Summed peak FLOP/s of the devices running the job; null where unknown (MFU is then "n/a"). */
  peak_flops: number | null;
  /** Samples the peak memory so far (written to TensorBoard and the summary). */
  memory: () => PeakMemory;
  writer?: SummaryWriter;
  /** Draw a progress bar on stderr; default: when stderr is a terminal. */
  progress?: boolean;
  /** Where log lines go (default console.log). */
  print?: (line: string) => void;
}

export interface StepRecord {
  /** Tokens in the batch, padding included, and tokens the attention mask keeps. */
  tokens: number;
  non_pad_tokens: number;
  /** Read only on logged steps, so that other steps never wait for the device. */
  loss: () => number;
  lr: number;
}

export interface TrainingSummary {
  steps: number;
  seconds: number;
  tokens: number;
  non_pad_tokens: number;
  tokens_per_s: number;
  non_pad_tokens_per_s: number;
  peak_memory: PeakMemory;
  losses: Array<[number, number]>;
}

const grouped = (n: number) => Math.round(n).toLocaleString("en-US");

export class TrainingLogger {
  private readonly meter = new ThroughputMeter();
  private readonly print: (line: string) => void;
  private readonly progress: boolean;
  private step = 0;
  private ended: Interval | null = null;
  readonly losses: Array<[number, number]> = [];

  constructor(private readonly options: TrainingLoggerOptions) {
    if (!(Number.isInteger(options.total_steps) && options.total_steps > 0))
      throw new Error(`TrainingLogger: total_steps must be a positive integer, got ${options.total_steps}`);
    if (!(Number.isInteger(options.log_interval) && options.log_interval > 0))
      throw new Error(`TrainingLogger: log_interval must be a positive integer, got ${options.log_interval}`);
    this.print = options.print ?? ((line) => console.log(line));
    this.progress = options.progress ?? process.stderr.isTTY === true;
    this.step = options.initial_step ?? 0;
  }

  /** Records a finished optimizer step; logs on every log_interval-th step and on the last. */
  record(record: StepRecord): void {
    this.step += 1;
    this.meter.add(record.tokens, record.non_pad_tokens);
    const last = this.step === this.options.total_steps;
    // The summary's time ends with the last step, not with whatever runs before finish() (eval, save).
    if (last) this.ended = this.meter.totals();
    if (this.step % this.options.log_interval === 0 || last) this.logLine(record);
    if (this.progress)
      process.stderr.write(`\r\x1b[2K${progressLine(this.step, this.options.total_steps, this.meter.totals().seconds)}${last ? "\n" : ""}`);
  }

  /** Percent of the devices' peak FLOP/s the interval reached, or null where the peak is unknown. */
  mfu(interval: Interval): number | null {
    if (this.options.peak_flops === null || interval.seconds <= 0) return null;
    return (100 * (interval.tokens / interval.seconds) * this.options.flops_per_token) / this.options.peak_flops;
  }

  private logLine(record: StepRecord): void {
    const loss = record.loss();
    const interval = this.meter.lap();
    const tps = interval.tokens / interval.seconds;
    const nonPad = interval.nonPadTokens / interval.seconds;
    const mfu = this.mfu(interval);
    this.losses.push([this.step, loss]);
    const line =
      `[Step ${this.step}/${this.options.total_steps}] | Loss: ${loss.toFixed(4)} | Duration: ${interval.seconds.toFixed(2)} s` +
      ` | Throughput: ${grouped(tps)} tokens/s (${grouped(nonPad)} non-pad) | ${mfu === null ? "MFU n/a" : `MFU ${mfu.toFixed(1)} %`}`;
    if (this.progress) process.stderr.write("\r\x1b[2K");
    this.print(line);
    const w = this.options.writer;
    if (w !== undefined) {
      w.add_scalar("train/loss", loss, this.step);
      w.add_scalar("train/learning_rate", record.lr, this.step);
      w.add_scalar("train/throughput_tokens_per_s", tps, this.step);
      w.add_scalar("train/throughput_non_pad_tokens_per_s", nonPad, this.step);
      w.add_scalar("train/peak_memory_bytes", this.options.memory().bytes, this.step);
      if (mfu !== null) w.add_scalar("train/mfu_percent", mfu, this.step);
    }
  }

  /** Ends the run: flushes TensorBoard, prints and returns the summary. `saved_to` says where the model went. */
  finish(saved_to: string | null): TrainingSummary {
    const t = this.ended ?? this.meter.totals();
    const memory = this.options.memory();
    const summary: TrainingSummary = {
      steps: t.steps,
      seconds: t.seconds,
      tokens: t.tokens,
      non_pad_tokens: t.nonPadTokens,
      tokens_per_s: t.tokens / t.seconds,
      non_pad_tokens_per_s: t.nonPadTokens / t.seconds,
      peak_memory: memory,
      losses: this.losses,
    };
    this.options.writer?.flush();
    this.print(
      [
        "Training summary",
        `  steps:               ${t.steps} in ${t.seconds.toFixed(1)} s`,
        `  average throughput:  ${grouped(summary.tokens_per_s)} tokens/s (${grouped(summary.non_pad_tokens_per_s)} non-pad)`,
        `  peak memory:         ${formatBytes(memory.bytes)} (${memory.source})`,
        ...(this.options.writer === undefined ? [] : [`  TensorBoard logs:    ${this.options.writer.log_dir}`]),
        `  model saved to:      ${saved_to ?? "(not saved)"}`,
      ].join("\n"),
    );
    return summary;
  }
}
