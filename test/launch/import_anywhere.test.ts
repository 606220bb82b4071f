// `tessera run` makes "tessera" importable from a script in any folder: one node runs as CommonJS
// (a .ts outside any "type": "module" package), one as an ES module (.mts), each importing every
// package.json export by its package name; a subpath the package does not export is node's error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { repoRoot } from "../helpers/oracle.js";

const pkg = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { exports: Record<string, string> };
const specifiers = Object.keys(pkg.exports).map((k) => (k === "." ? "tessera" : `tessera/${k.slice(2)}`));

function run(dir: string, script: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [path.join(repoRoot, "bin/tessera.mjs"), "run", script], {
    cwd: dir,
    encoding: "utf8",
    timeout: 120_000,
  });
  return { status: r.status, out: r.stdout + r.stderr };
}

test("a script in a folder of its own imports every tessera export under tessera run (CommonJS and ES module)", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "tessera-anywhere-"));
  try {
    const body = [
      ...specifiers.map((s, i) => `import * as m${i} from "${s}";`),
      `import { torch } from "tessera";`,
      `import { AutoTokenizer } from "tessera/transformers";`,
      `import { Dataset } from "tessera/datasets";`,
      `const counts = [${specifiers.map((_, i) => `Object.keys(m${i}).length`).join(", ")}];`,
      `console.log(JSON.stringify({ counts, sum: torch.ones(3).sum().item(), tok: typeof AutoTokenizer.from_pretrained, rows: Dataset.from_list([{ a: 1 }, { a: 2 }]).num_rows }));`,
    ].join("\n");
    for (const name of ["script.ts", "script.mts"]) {
      writeFileSync(path.join(dir, name), body);
      const r = run(dir, name);
      assert.equal(r.status, 0, r.out);
      const line = JSON.parse(r.out.trim().split("\n").pop() ?? "") as { counts: number[]; sum: number; tok: string; rows: number };
      assert.equal(line.counts.length, specifiers.length);
      assert.ok(
        line.counts.every((c) => c > 0),
        `${name}: an export loaded empty: ${JSON.stringify(line.counts)}`,
      );
      assert.deepEqual([line.sum, line.tok, line.rows], [3, "function", 2], name);
    }
    writeFileSync(path.join(dir, "bad.mts"), `import "tessera/not-an-export";\n`);
    const bad = run(dir, "bad.mts");
    assert.notEqual(bad.status, 0);
    assert.match(bad.out, /Package subpath '\.\/not-an-export' is not defined by "exports"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
