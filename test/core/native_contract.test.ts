// The TypeScript ↔ C++ contract: every entry point the built addon registers is declared once in
// src/torch/_native.ts, in the interface of the native file that registers it, and nothing is
// declared that the addon does not have.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { torch } from "../../src/index.js";
import { repoRoot } from "../helpers/oracle.js";

/** Entry name → the native/src file whose `set_function(env, exports, "name", ...)` registers it. */
function registeredInSource(): Map<string, string> {
  const out = new Map<string, string>();
  const dir = path.join(repoRoot, "native", "src");
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".cc"))) {
    for (const m of readFileSync(path.join(dir, file), "utf8").matchAll(/set_function\(\s*env,\s*exports,\s*"([A-Za-z0-9_]+)"/g)) {
      assert.ok(!out.has(m[1]), `${m[1]} is registered by both ${out.get(m[1])} and ${file}`);
      out.set(m[1], file);
    }
  }
  return out;
}

/** Interface name → { native file its doc comment names, member names }, read from _native.ts. */
function declared(): Map<string, { file: string; members: string[] }> {
  const file = path.join(repoRoot, "src", "torch", "_native.ts");
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
  const out = new Map<string, { file: string; members: string[] }>();
  source.forEachChild((node) => {
    if (!ts.isInterfaceDeclaration(node) || !node.name.text.endsWith("Entries")) return;
    const doc = ts
      .getJSDocCommentsAndTags(node)
      .map((d) => d.getText())
      .join(" ");
    const m = /native\/src\/([a-z_]+\.cc)/.exec(doc);
    assert.ok(m !== null, `${node.name.text} names no native/src file in its doc comment`);
    const members = node.members.map((member) => (member.name !== undefined && ts.isIdentifier(member.name) ? member.name.text : "?"));
    out.set(node.name.text, { file: m[1], members });
  });
  return out;
}

test("every registered entry is declared once, in its native file's interface, and nothing more", () => {
  const registered = registeredInSource();
  const interfaces = declared();
  const seen = new Map<string, string>();
  const misplaced: string[] = [];
  for (const [name, { file, members }] of interfaces) {
    for (const member of members) {
      assert.ok(!seen.has(member), `${member} is declared in both ${seen.get(member)} and ${name}`);
      seen.set(member, name);
      const actual = registered.get(member);
      if (actual === undefined) misplaced.push(`${name}.${member}: no native file registers it`);
      else if (actual !== file) misplaced.push(`${name}.${member}: declared for ${file}, registered by ${actual}`);
    }
  }
  const undeclared = [...registered.keys()].filter((n) => !seen.has(n)).map((n) => `${n} (${registered.get(n)}) is not declared`);
  assert.deepEqual([...misplaced, ...undeclared], []);
});

test("the built addon has exactly the entries the sources register", () => {
  const built = Object.keys(Object.getPrototypeOf(torch._C) as object)
    .concat(Object.keys(torch._C))
    .filter((k) => typeof (torch._C as unknown as Record<string, unknown>)[k] === "function");
  assert.deepEqual([...new Set(built)].sort(), [...registeredInSource().keys()].sort());
});

test("NativeAddon is the union of the per-file interfaces", () => {
  const text = readFileSync(path.join(repoRoot, "src", "torch", "_native.ts"), "utf8");
  const m = /export type NativeAddon = ([^;]+);/.exec(text);
  assert.ok(m !== null);
  assert.deepEqual(
    m[1]
      .split("&")
      .map((s) => s.trim())
      .sort(),
    [...declared().keys()].sort(),
  );
});
