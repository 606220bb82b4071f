// Saving into a folder as one step (save_pretrained of models, adapters and tokenizers). The new
// files are written into a fresh staging folder beside the target, under a name nobody can guess;
// what the target held that this save does not own is hard-linked in after them; then the staging
// folder takes the target's place. So an interrupted save leaves the old folder whole, no file of
// another weight format or of an adapter survives to be loaded instead of the new weights, and no
// write follows a symlink planted in the folder (every file is created new in the staging folder).
import { randomBytes } from "node:crypto";
import {
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
} from "node:fs";
import path from "node:path";
import { trackTemporary } from "./temporaries.js";

function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Moves the staging folder into `dir`'s place. A folder already there is first renamed aside and
 * removed afterwards: `dir` is never a mix of the two, and a crash between the two renames leaves
 * the old folder whole, as `.NAME.old-*` (POSIX has no atomic exchange of two folders).
 */
export function commitFolder(staging: string, dir: string): void {
  const final = path.resolve(dir);
  fsyncDir(staging);
  const old = path.join(path.dirname(final), `.${path.basename(final)}.old-${process.pid}-${randomBytes(6).toString("hex")}`);
  const hadOld = existsSync(final);
  if (hadOld) renameSync(final, old);
  renameSync(staging, final);
  fsyncDir(path.dirname(final));
  if (hadOld) rmSync(old, { recursive: true, force: true });
}

/** Puts `from` at `to` without copying data: hard links for files, the same target for symlinks. */
function linkEntry(from: string, to: string): void {
  const st = lstatSync(from);
  if (st.isSymbolicLink()) symlinkSync(readlinkSync(from), to);
  else if (st.isDirectory()) {
    mkdirSync(to);
    for (const name of readdirSync(from)) linkEntry(path.join(from, name), path.join(to, name));
  } else {
    try {
      linkSync(from, to);
    } catch {
      // A filesystem without hard links (or a file we may not link): a copy keeps the old one intact.
      copyFileSync(from, to);
    }
  }
}

const STAGING = (base: string): RegExp => new RegExp(`^\\.${base.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.tmp-(\\d+)-`);

/**
 * Staging folders of `base` left by processes that are gone (killed mid-save by SIGKILL). An
 * `.old-*` folder is kept: after a crash between commitFolder's renames it is the only whole copy.
 */
function removeDeadStaging(parent: string, base: string): void {
  const pattern = STAGING(base);
  for (const name of readdirSync(parent)) {
    const m = pattern.exec(name);
    if (m === null) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && !isAlive(pid)) rmSync(path.join(parent, name), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export interface SaveFolderOptions {
  /** Names (top-level entries) of the target that this save replaces or removes: they are not carried over. */
  owns: (name: string) => boolean;
}

/**
 * Runs `write(staging)` and then makes the result `dir`, atomically, keeping the entries of `dir`
 * that `owns` does not claim and `write` did not create. Returns the folder's resolved path.
 */
export function saveFolder(dir: string, { owns }: SaveFolderOptions, write: (staging: string) => void): string {
  // A symlink to a folder is where the user keeps it: the save replaces the folder it points to.
  const target = existsSync(dir) ? realpathSync(dir) : path.resolve(dir);
  if (existsSync(target) && !statSync(target).isDirectory()) throw new Error(`save_pretrained: ${dir} exists and is not a folder`);
  const parent = path.dirname(target);
  const base = path.basename(target);
  mkdirSync(parent, { recursive: true });
  removeDeadStaging(parent, base);
  // Registered before it exists, so that no signal can find it untracked; mkdir fails on any
  // existing entry (a planted symlink included) rather than reusing it.
  const staging = path.join(parent, `.${base}.tmp-${process.pid}-${randomBytes(8).toString("hex")}`);
  const untrack = trackTemporary(staging);
  try {
    mkdirSync(staging);
    write(staging);
    if (existsSync(target)) {
      const written = new Set(readdirSync(staging));
      for (const name of readdirSync(target))
        if (!owns(name) && !written.has(name)) linkEntry(path.join(target, name), path.join(staging, name));
    }
    commitFolder(staging, target);
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw e;
  } finally {
    untrack();
  }
  return target;
}
