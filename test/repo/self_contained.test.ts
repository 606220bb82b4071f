// The repository carries what its tests and tools need: a clone with nothing beside it (no
// ../shared) passes the tests that read the planner's reference data (test/planner/reference.ts,
// once read from the shared folder) and loads every export. The clone gets this checkout's set-up outputs (node_modules, .venv, the built
// addon, the generated ops) as links, standing for what `npm test`'s set-up would make there.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { repoRoot } from "../helpers/oracle.js";

const SETUP_OUTPUTS = ["node_modules", ".venv", "build", "src/torch/_generated"];

test("no tracked source, test or script reads a folder outside the repository", () => {
  const files = execFileSync("git", ["ls-files", "src", "test", "scripts", "bench", "examples", "package.json"], {
    cwd: repoRoot,
    encoding: "utf8",
  })
    .trim()
    .split("\n");
  // gpu-check.sh is run by hand on a lent GPU machine, whose preparation lives with that machine.
  const offenders = files.filter(
    (f) =>
      f !== "scripts/gpu-check.sh" &&
      f !== "test/repo/self_contained.test.ts" &&
      /\.(ts|mts|mjs|js|json|py|sh)$/.test(f) &&
      /\.\.\/shared\b|\/work\/shared/.test(readFileSync(path.join(repoRoot, f), "utf8")),
  );
  assert.deepEqual(offenders, []);
});

test("a clone of HEAD with nothing beside it passes the reference-data tests and loads every export", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "tessera-clone-"));
  try {
    const clone = path.join(dir, "tessera");
    execFileSync("git", ["clone", "--quiet", "--no-hardlinks", repoRoot, clone], { stdio: "ignore" });
    assert.deepEqual(readdirSync(dir), ["tessera"], "nothing beside the clone");
    for (const p of SETUP_OUTPUTS) if (existsSync(path.join(repoRoot, p))) symlinkSync(path.join(repoRoot, p), path.join(clone, p));
    const readers = readdirSync(path.join(clone, "test/planner")).filter(
      (f) => f.endsWith(".test.ts") && /from "\.\/reference\.js"/.test(readFileSync(path.join(clone, "test/planner", f), "utf8")),
    );
    // calibrate.test.ts reads the reference data too but times real Gloo ranks; it runs in the full suite.
    const files = readers.filter((f) => f !== "calibrate.test.ts").map((f) => `test/planner/${f}`);
    assert.ok(files.length >= 5, `the reference-data readers: ${files.join(", ")}`);
    // Without NODE_TEST_CONTEXT the clone's runner reports as it would from a shell, not to this runner.
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const r = spawnSync(process.execPath, ["scripts/run-tests.mjs", ...files, "test/core/exports"], {
      cwd: clone,
      env,
      encoding: "utf8",
      timeout: 600_000,
    });
    const out = r.stdout + r.stderr;
    assert.equal(r.status, 0, out.slice(-4000));
    const passed = Number(/ℹ pass (\d+)/.exec(out)?.[1]);
    assert.ok(passed >= 20, `the reference-data tests ran in the clone (${passed} passed)`);
    assert.match(out, /ℹ fail 0/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
