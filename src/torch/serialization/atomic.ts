// Writers put a file in place only once it is complete: write to a temporary name in the same
// folder, flush, then rename (atomic on POSIX), so a crash never leaves a half-written checkpoint.
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";

export function writeAtomically(file: string, write: (fd: number) => void): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const fd = openSync(tmp, "wx");
  try {
    write(fd);
    fsyncSync(fd);
    closeSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  try {
    renameSync(tmp, file);
  } catch (e) {
    unlinkSync(tmp);
    throw e;
  }
}
