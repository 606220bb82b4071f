// What from_pretrained's first argument names: a local folder, else a hub id ("org/name") resolved
// to its snapshot folder in the Hugging Face cache, downloading it first when online. from_pretrained
// is synchronous (as in Python), so the download runs in a child node process (download_main.ts)
// that this process waits for; a hub that cannot be reached falls back to a cached snapshot, as
// huggingface_hub does.
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { cached_snapshot, hub_cache_dir, hub_offline, is_repo_id, type HubOptions } from "./cache.js";

const here = fileURLToPath(new URL(".", import.meta.url));

function downloadInChild(repo_id: string, options: HubOptions, what: string): { folder?: string; error?: string; connection?: boolean } {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm")).href;
  const args = JSON.stringify({
    repo_id,
    options: { revision: options.revision, cache_dir: options.cache_dir ?? null, token: options.token ?? null },
  });
  const r = spawnSync(process.execPath, ["--import", tsx, `${here}download_main.ts`, args], { encoding: "utf8", maxBuffer: 1 << 24 });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  if (r.status !== 0 || !line.startsWith("{"))
    throw new Error(`${what}: the download of ${repo_id} failed (${r.status ?? r.signal}): ${r.stderr.trim()}`);
  return JSON.parse(line) as { folder?: string; error?: string; connection?: boolean };
}

/**
 * The folder `name_or_path` stands for: itself when it is a folder, else the cached snapshot of the
 * hub id at `revision` (downloaded into the cache first unless offline). `what` names the caller in errors.
 */
export function resolve_pretrained_folder(name_or_path: string, options: HubOptions = {}, what = "from_pretrained"): string {
  if (existsSync(name_or_path) && statSync(name_or_path).isDirectory()) return name_or_path;
  const revision = options.revision ?? "main";
  if (!is_repo_id(name_or_path)) throw new Error(`${what}: ${name_or_path} is not a folder, nor a hub id ("org/name")`);
  const cached = cached_snapshot(name_or_path, revision, options.cache_dir);
  const cache = hub_cache_dir(options.cache_dir);
  if (options.local_files_only === true || hub_offline()) {
    if (cached !== null) return cached;
    throw new Error(
      `${what}: ${name_or_path} is not a folder, and revision ${revision} of the hub model ${name_or_path} is not in the Hugging Face cache ${cache} ` +
        `(offline: ${options.local_files_only === true ? "local_files_only" : "HF_HUB_OFFLINE"}; download it with network, or point HF_HOME / HF_HUB_CACHE / cache_dir at a cache that holds it)`,
    );
  }
  const r = downloadInChild(name_or_path, options, what);
  if (r.folder !== undefined) return r.folder;
  if (r.connection === true && cached !== null) {
    process.emitWarning(`${what}: ${r.error}; using the cached snapshot ${cached}`);
    return cached;
  }
  throw new Error(`${what}: ${name_or_path} is not a folder, and its download into ${cache} failed: ${r.error}`);
}
