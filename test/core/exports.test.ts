// Every entry point package.json exports exists and loads, with the names a user imports from it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { exports: Record<string, string> };

test("every package.json export loads", async () => {
  const loaded: Record<string, string[]> = {};
  for (const [name, file] of Object.entries(pkg.exports)) {
    const mod = (await import(pathToFileURL(path.join(root, file)).href)) as Record<string, unknown>;
    loaded[name] = Object.keys(mod);
    assert.ok(loaded[name].length > 0, `${name} (${file}) exports nothing`);
  }
  assert.ok(loaded["."].includes("torch"));
  assert.ok(loaded["./transformers"].includes("AutoModelForCausalLM"));
  assert.ok(loaded["./parallel"].includes("plan") && loaded["./parallel"].includes("fixedFromPlanJson"));
  assert.ok(loaded["./datasets"].includes("load_dataset") && loaded["./datasets"].includes("Dataset"));
});
