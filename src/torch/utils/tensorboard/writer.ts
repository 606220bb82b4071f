// torch.utils.tensorboard.SummaryWriter: scalars and text written as TensorBoard event files
// (TFRecord-framed Event protobufs), readable by TensorBoard with no TensorFlow installed.
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { encodeEvent, type SummaryValue } from "./proto.js";
import { frameRecord } from "./record_writer.js";
import { ValueError } from "../../errors.js";
import { checkOptions } from "../../_options.js";

export interface SummaryWriterOptions {
  log_dir?: string | null;
  /** Appended to the default log_dir (ignored when log_dir is given), as in PyTorch. */
  comment?: string;
  /**
   * PyTorch's queue length and flush period, checked and accepted for its signature. tessera keeps
   * no queue: each event is written (one write call) before add_* returns, so what was logged is in
   * the file whatever ends the process (Ctrl-C, SIGTERM, SIGKILL, a crash), and a full disk is an
   * error at the add_* that hit it rather than a silent loss at exit.
   */
  max_queue?: number;
  flush_secs?: number;
  filename_suffix?: string;
}

/** A scalar: a number or anything with .item() (a one-element Tensor). */
export type ScalarLike = number | { item(): number };

// Each writer in a process gets its own file even when two open within the same second.
let nextUid = 0;

function defaultLogDir(comment: string): string {
  const now = new Date();
  const month = now.toLocaleString("en-US", { month: "short" });
  const two = (n: number) => String(n).padStart(2, "0");
  // PyTorch's default: runs/<Mon><DD>_<HH>-<MM>-<SS>_<host><comment>
  return join(
    "runs",
    `${month}${two(now.getDate())}_${two(now.getHours())}-${two(now.getMinutes())}-${two(now.getSeconds())}_${hostname()}${comment}`,
  );
}

export class SummaryWriter {
  readonly log_dir: string;
  /** The event file this writer appends to. */
  readonly file: string;
  private fd: number | null;

  constructor(log_dir?: string | null | SummaryWriterOptions, options: SummaryWriterOptions = {}) {
    const opts: SummaryWriterOptions = typeof log_dir === "object" && log_dir !== null ? log_dir : { ...options, log_dir };
    checkOptions("SummaryWriter.__init__", opts, {
      log_dir: true,
      comment: true,
      max_queue: true,
      flush_secs: true,
      filename_suffix: true,
    });
    const maxQueue = opts.max_queue ?? 10;
    const flushSecs = opts.flush_secs ?? 120;
    if (!(Number.isInteger(maxQueue) && maxQueue >= 0))
      throw new ValueError(`SummaryWriter: max_queue must be a non-negative integer, got ${maxQueue}`);
    if (!(flushSecs >= 0)) throw new ValueError(`SummaryWriter: flush_secs must be non-negative, got ${flushSecs}`);
    this.log_dir = opts.log_dir ?? defaultLogDir(opts.comment ?? "");
    mkdirSync(this.log_dir, { recursive: true });
    const seconds = Math.floor(Date.now() / 1000);
    const name = `events.out.tfevents.${String(seconds).padStart(10, "0")}.${hostname()}.${process.pid}.${nextUid++}${opts.filename_suffix ?? ""}`;
    this.file = join(this.log_dir, name);
    this.fd = openSync(this.file, "w");
    // The first record of every event file names the format version.
    this.write(encodeEvent({ wall_time: Date.now() / 1000, step: 0, file_version: "brain.Event:2" }));
  }

  get_logdir(): string {
    return this.log_dir;
  }

  add_scalar(tag: string, scalar_value: ScalarLike, global_step?: number | null, walltime?: number | null): void {
    const value = typeof scalar_value === "number" ? scalar_value : scalar_value.item();
    this.addSummary({ tag, simple_value: value }, global_step, walltime);
  }

  add_text(tag: string, text_string: string, global_step?: number | null, walltime?: number | null): void {
    this.addSummary({ tag, text: text_string }, global_step, walltime);
  }

  /** PyTorch's flush: every event is already written when add_* returns, so there is nothing to do. */
  flush(): void {}

  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }

  private addSummary(value: SummaryValue, global_step: number | null | undefined, walltime: number | null | undefined): void {
    if (this.fd === null) throw new Error(`SummaryWriter: '${value.tag}' written after close() (log_dir ${this.log_dir})`);
    const step = global_step ?? 0;
    if (!Number.isInteger(step)) throw new Error(`SummaryWriter: global_step of '${value.tag}' must be an integer, got ${step}`);
    this.write(encodeEvent({ wall_time: walltime ?? Date.now() / 1000, step, summary: [value] }));
  }

  /** Appends one framed record; a failed write (a full disk) is an error naming the file. */
  private write(event: Uint8Array): void {
    const bytes = frameRecord(event);
    try {
      for (let off = 0; off < bytes.length; ) off += writeSync(this.fd!, bytes, off);
    } catch (e) {
      throw new Error(`SummaryWriter: cannot write ${this.file}: ${(e as Error).message}`);
    }
  }
}
