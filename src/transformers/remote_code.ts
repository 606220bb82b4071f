// A model folder's remote code: the Python modules its config's `auto_map` names
// ("modeling_baichuan.BaichuanForCausalLM" -> modeling_baichuan.py) and the modules they import
// relatively (`from .configuration_baichuan import ...`), which Python's transformers needs beside
// config.json to reload the folder with trust_remote_code. tessera runs its own implementation of
// the family, so it only carries these files: a config remembers the folder it was read from, and
// its save_pretrained copies them, as Python's custom_object_save does.
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import path from "node:path";

const sources = new WeakMap<object, string>();

/** Records that `config` was read from `dir`. */
export function rememberSource<T extends object>(config: T, dir: string): T {
  sources.set(config, dir);
  return config;
}

/** The local module names an auto_map names (an entry of another repo, "org/repo--module.Class", is not local). */
function autoMapModules(auto_map: unknown): string[] {
  if (auto_map === null || typeof auto_map !== "object") return [];
  const refs = Object.values(auto_map as Record<string, unknown>).flatMap((v) => (Array.isArray(v) ? v : [v]));
  return refs
    .filter((r): r is string => typeof r === "string" && !r.includes("--") && r.includes("."))
    .map((r) => r.slice(0, r.lastIndexOf(".")));
}

// transformers' get_relative_imports: `import .x` and `from .x import ...`, at any indentation.
const RELATIVE_IMPORT = /^\s*(?:import\s+\.(\w+)|from\s+\.(\w+)\s+import)/gm;

/** The remote-code files (names in `dir`) for an auto_map: its modules and what they import relatively. */
export function remoteCodeFiles(dir: string, auto_map: unknown): string[] {
  const seen = new Set<string>();
  const visit = (module: string): void => {
    const file = `${module}.py`;
    if (seen.has(file) || !existsSync(path.join(dir, file))) return;
    seen.add(file);
    for (const m of readFileSync(path.join(dir, file), "utf8").matchAll(RELATIVE_IMPORT)) visit(m[1] ?? m[2]);
  };
  autoMapModules(auto_map).forEach(visit);
  return [...seen];
}

/** Copies the remote code of the folder `config` was read from into `save_directory` (nothing when it has no auto_map). */
export function copyRemoteCode(config: object, auto_map: unknown, save_directory: string): void {
  const from = sources.get(config);
  if (from === undefined || path.resolve(from) === path.resolve(save_directory)) return;
  for (const f of remoteCodeFiles(from, auto_map)) copyFileSync(path.join(from, f), path.join(save_directory, f));
}
