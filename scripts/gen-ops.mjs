// Generates the typed TypeScript surface of every ATen op from the schemas the built addon reports:
//   src/torch/_generated/functions.ts       torch.<op>(...) functions
//   src/torch/_generated/tensor_methods.ts  Tensor.<op>(...) methods (ops whose first argument is `self`)
// Keyword arguments become a trailing options object. Run: npm run gen (setup runs it when needed).
import { createRequire } from "node:module";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { root } from "./torch-env.mjs";

const outDir = path.join(root, "src", "torch", "_generated");
const addonFile = path.join(root, "build", "native", "tessera.node");

const RESERVED = new Set(
  (
    "break case catch class const continue debugger default delete do else enum export extends false finally for function if " +
    "import in instanceof new null return super switch this throw true try typeof var void while with yield let static " +
    "implements interface package private protected public await arguments eval"
  ).split(" "),
);

// Python spells these size arguments as varargs too: x.view(2, 3), torch.zeros(2, 3).
const VARARG_NAMES = new Set(["size", "shape", "dims", "sizes", "repeats"]);

// Members written by hand win over generated methods: those of `class Tensor` and of the
// `interface Tensor` augmentations in these files, found by parsing them.
export function handWrittenMethods() {
  const names = new Set(["constructor"]);
  for (const file of ["tensor.ts", "indexing.ts"]) {
    const p = path.join(root, "src", "torch", file);
    if (!existsSync(p)) continue;
    const visit = (node) => {
      if ((ts.isClassDeclaration(node) || ts.isInterfaceDeclaration(node)) && node.name?.text === "Tensor") {
        for (const member of node.members) if (member.name !== undefined && ts.isIdentifier(member.name)) names.add(member.name.text);
      }
      ts.forEachChild(node, visit);
    };
    visit(ts.createSourceFile(p, readFileSync(p, "utf8"), ts.ScriptTarget.ES2022, true));
  }
  return names;
}

function unwrapOptional(t) {
  const m = /^Optional\[(.*)\]$/.exec(t);
  return m ? { inner: m[1], optional: true } : { inner: t, optional: false };
}

function scalarTs(t, isInput) {
  switch (t) {
    case "Tensor":
      return isInput ? "Tensor | number" : "Tensor";
    case "int":
    case "SymInt":
      return "number";
    case "float":
    case "SymFloat":
      return "number";
    case "bool":
    case "SymBool":
      return "boolean";
    case "str":
      return "string";
    case "number":
      return isInput ? "Scalar" : "number";
    case "ScalarType":
      return isInput ? "dtype" : "number";
    case "Device":
      return isInput ? "DeviceLike" : "string";
    case "Layout":
      return "Layout";
    case "MemoryFormat":
      return "MemoryFormat";
    case "Generator":
      return "Generator";
    default:
      return "unknown";
  }
}

function tsType(type, isInput) {
  const { inner, optional } = unwrapOptional(type);
  let ts;
  const list = /^List\[(.*)\]$/.exec(inner);
  if (list) {
    const el = unwrapOptional(list[1]);
    const base = scalarTs(el.inner, isInput && el.inner !== "Tensor");
    const elem = el.optional ? `(${base} | null)` : base.includes("|") ? `(${base})` : base;
    ts = `${elem}[]`;
    if (isInput && (el.inner === "int" || el.inner === "SymInt" || el.inner === "float")) ts = `number | ${ts}`;
  } else {
    ts = scalarTs(inner, isInput);
  }
  return optional ? `${ts} | null` : ts;
}

function returnType(returns) {
  if (returns.length === 0) return "void";
  if (returns.length === 1) return tsType(returns[0].type, false);
  const tuple = `[${returns.map((r) => tsType(r.type, false)).join(", ")}]`;
  const named = returns.filter((r) => r.name);
  if (named.length !== returns.length) return tuple;
  return `${tuple} & { ${named.map((r) => `${r.name}: ${tsType(r.type, false)}`).join("; ")} }`;
}

function paramName(name) {
  return RESERVED.has(name) ? `${name}_` : name;
}

function propKey(name) {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : JSON.stringify(name);
}

// One TS signature per schema overload (a second one for size varargs).
function signatures(ov, dropSelf) {
  const args = dropSelf ? ov.args.slice(1) : ov.args;
  const positional = args.filter((a) => !a.kwargOnly);
  const optionalFrom = (() => {
    let i = positional.length;
    while (i > 0 && (positional[i - 1].default !== undefined || unwrapOptional(positional[i - 1].type).optional)) i--;
    return i;
  })();
  // Every argument with a default (or nullable) and every keyword-only one may be given by name.
  const named = args.filter((a) => a.kwargOnly || a.default !== undefined || unwrapOptional(a.type).optional);
  const requiredKw = args.filter((a) => a.kwargOnly && a.default === undefined && !unwrapOptional(a.type).optional);
  const entries = named.map((a) => {
    const req = requiredKw.includes(a) ? "" : "?";
    return `${propKey(a.name)}${req}: ${tsType(a.type, !(a.name === "self" && a.type === "Tensor"))}`;
  });
  if (args.some((a) => a.name === "pin_memory")) entries.push("requires_grad?: boolean"); // factory functions
  const opts = entries.length ? `{ ${entries.join("; ")} }` : null;
  const param = (a, i) => {
    const isSelf = i === 0 && !dropSelf && a.name === "self" && a.type === "Tensor";
    return `${paramName(a.name)}${i >= optionalFrom ? "?" : ""}: ${tsType(a.type, !isSelf)}`;
  };
  const ret = returnType(ov.returns);
  // As in Python, any trailing positional argument may instead be given by name in the options.
  const sigs = [];
  for (let k = optionalFrom; k <= positional.length; k++) {
    const params = positional
      .slice(0, k)
      .map((a, i) => (requiredKw.length && i >= optionalFrom ? param(a, i).replace("?:", ":") + " | undefined" : param(a, i)));
    if (opts) params.push(`opts${requiredKw.length ? "" : "?"}: ${opts}`);
    sigs.push(`(${params.join(", ")}): ${ret}`);
  }
  const first = positional[0];
  if (first && VARARG_NAMES.has(first.name) && /^List\[(int|SymInt)\]$/.test(first.type) && positional.length === 1) {
    sigs.push(opts ? `(...size: number[] | [...number[], ${opts}]): ${ret}` : `(...size: number[]): ${ret}`);
  }
  return sigs;
}

function isMethodOverload(ov) {
  return ov.args.length > 0 && ov.args[0].name === "self" && ov.args[0].type === "Tensor" && !ov.args[0].kwargOnly;
}

function jsName(opName) {
  const n = opName.replace(/^\w+::/, "");
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(n) && !RESERVED.has(n) ? n : null;
}

// Python's torch.linalg, torch.fft and torch.special: the ATen ops `linalg_*`, `fft_*` and
// `special_*` under their names there (`torch.linalg.vector_norm` is aten::linalg_vector_norm).
const SUBMODULES = ["linalg", "fft", "special"];

const HEADER =
  "// GENERATED FILE — do not edit. Regenerate with `npm run gen` (scripts/gen-ops.mjs) from the schemas of\n// the libtorch the addon was built against.\n";

const IMPORTS = `import type { Tensor } from "../tensor.js";
import type { dtype } from "../dtype.js";
import type { DeviceLike } from "../device.js";
import type { Generator } from "../generator.js";
import type { Layout, MemoryFormat, Scalar } from "../types.js";
`;

// `torch.<name>(...)` for one op: its caller and one typed signature per overload.
function functionLines(set, name) {
  const caller = `$${name}`;
  const lines = [`const ${caller} = op(${JSON.stringify(set.name)});`];
  const fnSigs = set.overloads.flatMap((ov) => signatures(ov, false));
  for (const s of [...new Set(fnSigs)]) lines.push(`export function ${name}${s};`);
  lines.push(`export function ${name}(...args: unknown[]): unknown {\n  return ${caller}(args);\n}`);
  return lines;
}

export function generate() {
  const addon = createRequire(import.meta.url)(addonFile);
  const all = addon.listOps();
  const sets = all.filter((s) => s.name.startsWith("aten::"));
  // The addon's own ops (native/src/cpu_linear.cc), for the hand-written layers that call them.
  const own = all.filter((s) => s.name.startsWith("tessera::"));
  const ownOut = [HEADER, 'import type { Tensor } from "../tensor.js";', 'import { op } from "../_invoke.js";', ""];
  for (const set of own) ownOut.push(...functionLines(set, jsName(set.name)));
  const skipMethods = handWrittenMethods();
  const fnOut = [HEADER, "/* eslint-disable */", IMPORTS, 'import { op } from "../_invoke.js";', ""];
  const mOut = [HEADER, IMPORTS, 'import { methodOp } from "../_invoke.js";', ""];
  const methodDecls = [];
  const methodImpls = [];
  const fnNames = [];
  let methodCount = 0;
  for (const set of sets) {
    const name = jsName(set.name);
    if (!name) continue;
    const caller = `$${name}`;
    fnOut.push(...functionLines(set, name));
    fnNames.push(name);
    const methodOvs = set.overloads.filter(isMethodOverload);
    if (methodOvs.length && !skipMethods.has(name)) {
      const mSigs = [...new Set(methodOvs.flatMap((ov) => signatures(ov, true)))];
      for (const s of mSigs) methodDecls.push(`    ${name}${s};`);
      methodImpls.push(`  ${propKey(name)}(this: Tensor, ...args: unknown[]): unknown {\n    return ${caller}(this, args);\n  },`);
      mOut.push(`const ${caller} = methodOp(${JSON.stringify(set.name)});`);
      methodCount++;
    }
  }
  for (const mod of SUBMODULES) {
    const members = fnNames
      .filter((n) => n.startsWith(`${mod}_`) && n[mod.length + 1] !== "_")
      .map((n) => `  ${propKey(n.slice(mod.length + 1))}: ${n},`);
    fnOut.push("", `/** torch.${mod}: the \`${mod}_*\` ATen ops under Python's names. */`, `export const ${mod} = {`, ...members, "};");
  }
  mOut.push("", 'declare module "../tensor.js" {', "  interface Tensor {", ...methodDecls, "  }", "}", "");
  mOut.push("const methods = {", ...methodImpls, "};", "");
  mOut.push(
    "/**",
    " * The generated methods, on a chain of prototypes ending in `base`, for tensor.ts to put below",
    " * Tensor.prototype (whose hand-written methods take precedence). V8 keeps an object with more than",
    " * ~1,000 properties in dictionary mode, where every method load is a hash lookup; layers of at",
    " * most 512 stay fast.",
    " */",
    "export function tensorMethodPrototypes(base: object): object {",
    "  const all = Object.entries(methods);",
    "  let parent = base;",
    "  for (let end = all.length; end > 0; end -= 512) {",
    "    const layer: object = Object.create(parent);",
    "    for (const [name, fn] of all.slice(Math.max(0, end - 512), end)) {",
    "      Object.defineProperty(layer, name, { value: fn, writable: true, configurable: true });",
    "    }",
    "    parent = layer;",
    "  }",
    "  return parent;",
    "}",
    "",
  );
  mkdirSync(outDir, { recursive: true });
  const write = (file, text) => {
    const p = path.join(outDir, file);
    writeFileSync(`${p}.tmp`, text);
    renameSync(`${p}.tmp`, p);
  };
  write("functions.ts", fnOut.join("\n") + "\n");
  write("tensor_methods.ts", mOut.join("\n"));
  write("tessera_ops.ts", ownOut.join("\n") + "\n");
  return { functions: fnNames.length, methods: methodCount, own: own.length };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = generate();
  console.log(`[tessera] generated ${r.functions} torch functions, ${r.methods} Tensor methods and ${r.own} tessera op(s)`);
}
