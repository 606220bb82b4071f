// Folders that appear complete or not at all: written under a hidden staging name next to their
// final place and renamed into it (atomic on POSIX), so that a crash mid-write never leaves a
// folder that looks complete; and the checkpoint-STEP folders of an output directory.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import path from "node:path";
import { METADATA_FILE } from "./format.js";

/** The hidden folder `dir` is written in before commitFolder() moves it into place. */
export function stagingFolder(dir: string): string {
  return path.join(path.dirname(path.resolve(dir)), `.${path.basename(dir)}.partial`);
}

/** An empty staging folder for `dir` (what a crashed write left there is removed). */
export function freshStagingFolder(dir: string): string {
  const staging = stagingFolder(dir);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  return staging;
}

export { commitFolder } from "../../torch/serialization/folder.js";

/** Removes a folder by first renaming it to a hidden name, so that a crash midway leaves nothing that looks complete. */
export function removeFolder(dir: string): void {
  const doomed = path.join(path.dirname(path.resolve(dir)), `.${path.basename(dir)}.deleting`);
  rmSync(doomed, { recursive: true, force: true });
  renameSync(dir, doomed);
  rmSync(doomed, { recursive: true, force: true });
}

const CHECKPOINT = /^checkpoint-(\d+)$/;

/** Removes what crashed checkpoint writes left in `output_dir` (hidden .checkpoint-STEP.partial, .old-PID-HEX and .deleting folders). */
export function removeCheckpointLeftovers(output_dir: string): void {
  for (const name of readdirSync(output_dir)) {
    if (/^\.checkpoint-\d+\.(partial|old-\d+-[0-9a-f]+|deleting)$/.test(name))
      rmSync(path.join(output_dir, name), { recursive: true, force: true });
  }
}

/** The complete checkpoint-STEP folders of `output_dir` (those with their metadata), oldest step first. */
export function checkpoints(output_dir: string): Array<{ step: number; dir: string }> {
  if (!existsSync(output_dir)) return [];
  return readdirSync(output_dir)
    .map((name) => ({ m: CHECKPOINT.exec(name), dir: path.join(output_dir, name) }))
    .filter(({ m, dir }) => m !== null && existsSync(path.join(dir, METADATA_FILE)))
    .map(({ m, dir }) => ({ step: Number(m![1]), dir }))
    .sort((a, b) => a.step - b.step);
}

/** The newest complete checkpoint in `output_dir` (HF's get_last_checkpoint), or null. */
export function latest_checkpoint(output_dir: string): string | null {
  return checkpoints(output_dir).at(-1)?.dir ?? null;
}

/** Keeps the `limit` newest complete checkpoints of `output_dir` (HF's save_total_limit); returns the removed folders. */
export function rotate_checkpoints(output_dir: string, limit: number): string[] {
  const all = checkpoints(output_dir);
  const doomed = all.slice(0, Math.max(0, all.length - limit)).map((c) => c.dir);
  for (const dir of doomed) removeFolder(dir);
  return doomed;
}
