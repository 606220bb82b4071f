// Writers put a file in place only once it is complete: write to a temporary name in the same
// folder, flush, then rename (atomic on POSIX), so a crash never leaves a half-written checkpoint.
import { closeSync, fsyncSync, openSync, renameSync, rmSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { trackTemporary } from "./temporaries.js";

export function writeAtomically(file: string, write: (fd: number) => void): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(8).toString("hex")}.tmp`);
  const untrack = trackTemporary(tmp);
  try {
    // "wx": a new file, never one already there (nor a symlink's target).
    const fd = openSync(tmp, "wx");
    try {
      write(fd);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  } finally {
    untrack();
  }
}
