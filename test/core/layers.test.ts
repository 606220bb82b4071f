// The layers of docs/ARCHITECTURE.md, as imports: native → src/torch → src/transformers,
// src/datasets and src/parallel → src/launch → src/cli, arrows only pointing down. Examples import the package as a
// user does, through its public entry points; the tutorial through tessera, tessera/transformers
// and tessera/datasets only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { repoRoot } from "../helpers/oracle.js";

const pkg = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { name: string; exports: Record<string, string> };
const entryFiles = new Map(
  Object.entries(pkg.exports).map(([sub, file]) => [path.normalize(file.replace(/^\.\//, "")), path.posix.join(pkg.name, sub)]),
);

/** Rank of each layer under src/; the package's own entry points (src/*.ts) sit on top. */
const RANK: Record<string, number> = { torch: 0, transformers: 1, datasets: 1, parallel: 1, launch: 2, cli: 3 };
/** The one sideways arrow: per-family tensor- and pipeline-parallel plans name the model classes they rewrite. */
const SIDEWAYS = [/^src\/parallel\/(tp_plans|pp_plans)\//];

function layerOf(file: string): string {
  const parts = file.split("/");
  return parts[0] !== "src" ? parts[0] : parts.length === 2 ? "entry" : parts[1];
}

/** One import of `from` (a repo-relative path) that breaks the layering, or null. */
export function importProblem(from: string, spec: string): string | null {
  if (!spec.startsWith(".")) {
    if (spec === pkg.name || spec.startsWith(`${pkg.name}/`))
      return from.startsWith("src/") ? `${from} imports the package (${spec}) from inside it` : null;
    return null;
  }
  const target = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec)).replace(/\.js$/, ".ts");
  const a = layerOf(from);
  const b = layerOf(target);
  if (a === "entry" || from.startsWith("test/")) return null;
  if (from.startsWith("src/")) {
    if (!target.startsWith("src/")) return `${from} imports ${target}, outside src/`;
    if (b === "entry") return `${from} imports the package root ${target} (it loads every layer)`;
    if (a === b) return null;
    for (const layer of [a, b])
      if (!(layer in RANK)) return `${from} imports ${target}: src/${layer} is no layer of docs/ARCHITECTURE.md (add it there and here)`;
    if (RANK[b] < RANK[a]) return null;
    if (RANK[b] === RANK[a] && SIDEWAYS.some((re) => re.test(from)) && b === "transformers") return null;
    return `${from} (${a}) imports ${target} (${b}): arrows point down only`;
  }
  if (target.startsWith("src/") && !entryFiles.has(target))
    return `${from} imports ${target}, which is not a public entry point (export what it needs)`;
  return null;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(repoRoot, dir))) {
    const rel = path.posix.join(dir, name);
    if (statSync(path.join(repoRoot, rel)).isDirectory()) out.push(...sourceFiles(rel));
    else if (/\.(ts|mts)$/.test(name) && !name.endsWith(".d.ts")) out.push(rel);
  }
  return out;
}

function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(path.join(repoRoot, file), "utf8"), true, true);
  return info.importedFiles.map((f) => f.fileName);
}

test("the checker itself: it refuses upward, cross-layer and outside imports, and allows the documented ones", () => {
  assert.match(importProblem("src/torch/tensor.ts", "../launch/launcher.js")!, /arrows point down/);
  assert.match(importProblem("src/transformers/trainer_log/hardware.ts", "../../parallel/planner/index.js")!, /arrows point down/);
  assert.match(importProblem("src/transformers/activations.ts", "../index.js")!, /package root/);
  assert.match(importProblem("src/cli/prepare.ts", "../../examples/finetune/prepare_dataset.js")!, /outside src/);
  assert.match(importProblem("examples/finetune/train.ts", "../../src/transformers/peft/index.js")!, /not a public entry point/);
  assert.match(importProblem("src/torch/index.ts", "tessera/transformers")!, /from inside it/);
  assert.equal(importProblem("src/parallel/tp_plans/llama.ts", "../../transformers/models/llama/modeling_llama.js"), null);
  assert.equal(importProblem("src/launch/launcher.ts", "../parallel/apply.js"), null);
  assert.equal(importProblem("src/index.ts", "./launch/advanced_parallelization.js"), null);
  assert.equal(importProblem("examples/finetune/train.ts", "tessera/transformers"), null);
  assert.equal(importProblem("examples/finetune/train.ts", "./lib/cli.js"), null);
});

test("every import in src/ and examples/ follows the layers", () => {
  const problems: string[] = [];
  for (const file of [...sourceFiles("src"), ...(existsSync(path.join(repoRoot, "examples")) ? sourceFiles("examples") : [])]) {
    for (const spec of importsOf(file)) {
      const p = importProblem(file, spec);
      if (p !== null) problems.push(p);
    }
  }
  assert.deepEqual(problems, []);
});

test("the tutorial imports tessera only through tessera, tessera/transformers and tessera/datasets", () => {
  const allowed = new Set([pkg.name, `${pkg.name}/transformers`, `${pkg.name}/datasets`]);
  const used: string[] = [];
  for (const file of sourceFiles("examples/finetune")) {
    for (const spec of importsOf(file)) {
      if (spec.startsWith(".")) {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, ".ts");
        if (target.startsWith("src/")) used.push(`${file}: ${spec}`);
      } else if ((spec === pkg.name || spec.startsWith(`${pkg.name}/`)) && !allowed.has(spec)) used.push(`${file}: ${spec}`);
    }
  }
  assert.deepEqual(used, []);
});
