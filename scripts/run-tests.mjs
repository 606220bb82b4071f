// Runs every test file (test/**/*.test.ts) with Node's built-in runner and tsx, two files at a time.
// Extra arguments filter files by substring: `npm test -- planner tensor`. test/cuda/ needs a GPU and
// runs only with --cuda (scripts/gpu-check.sh).
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { root } from "./torch-env.mjs";

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return find(p);
    return name.endsWith(".test.ts") ? [p] : [];
  });
}

const cuda = process.argv.includes("--cuda");
const filters = process.argv.slice(2).filter((a) => a !== "--cuda");
const cudaDir = path.join(root, "test", "cuda") + path.sep;
const files = find(path.join(root, "test"))
  .filter((f) => f.startsWith(cudaDir) === cuda)
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error("no test files matched");
  process.exit(1);
}
const concurrency = Math.max(1, Math.min(2, os.cpus().length));
const r = spawnSync(
  process.execPath,
  [
    "--expose-gc",
    "--import",
    "tsx",
    "--test",
    `--test-concurrency=${concurrency}`,
    "--test-reporter=spec",
    ...files.map((f) => path.relative(root, f)),
  ],
  { cwd: root, stdio: "inherit", env: { ...process.env, TESSERA_TEST: "1" } },
);
process.exit(r.status ?? 1);
