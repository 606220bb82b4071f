// Whole reads and writes on file descriptors (one fs call moves at most 1 GiB), and a safe way to
// put file-provided keys on plain objects.
import { readSync, writeSync } from "node:fs";

const IO_CHUNK = 1 << 30;

/** Reads up to `into.length` bytes at `position`; returns how many there were before end of file. */
export function readFully(fd: number, into: Uint8Array, position: number): number {
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, Math.min(IO_CHUNK, into.length - done), position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

export function writeFully(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, Math.min(IO_CHUNK, bytes.length - done));
}

/** `obj[key] = value` as an own data property, so that a key like "__proto__" stays data. */
export function setOwn(obj: object, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}
