// The Hugging Face cache's layout, as huggingface_hub writes it, so that Python and tessera share one
// cache: <cache>/models--<org>--<name>/{blobs/<etag>, snapshots/<commit>/<file> -> ../../blobs/<etag>,
// refs/<revision> holding a commit}. The cache is HF_HUB_CACHE, else $HF_HOME/hub, else
// ~/.cache/huggingface/hub (XDG_CACHE_HOME honoured, as huggingface_hub does).
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export interface HubOptions {
  /** A branch, tag or commit (default "main"). */
  revision?: string;
  /** The hub cache folder (default: HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub). */
  cache_dir?: string | null;
  /** Only the cache, no network (also when HF_HUB_OFFLINE=1). */
  local_files_only?: boolean;
  /** A hub token (default: HF_TOKEN); sent as a bearer token. */
  token?: string | null;
}

/** A repository id as the hub spells it: "name" or "org/name" of letters, digits, "-", "_", ".". */
const REPO_ID = /^(?:[A-Za-z0-9][\w.-]*\/)?[A-Za-z0-9][\w.-]*$/;

export function is_repo_id(s: string): boolean {
  return REPO_ID.test(s) && !s.includes("..") && !s.endsWith(".");
}

export function hub_cache_dir(cache_dir: string | null | undefined = null): string {
  if (cache_dir) return path.resolve(cache_dir);
  const env = process.env;
  if (env.HF_HUB_CACHE) return path.resolve(env.HF_HUB_CACHE);
  const home = env.HF_HOME ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "huggingface");
  return path.resolve(home, "hub");
}

/** models--org--name: the repository's folder in the cache. */
export function repo_folder(repo_id: string, cache_dir: string | null | undefined = null): string {
  return path.join(hub_cache_dir(cache_dir), `models--${repo_id.split("/").join("--")}`);
}

export function is_commit_hash(revision: string): boolean {
  return /^[0-9a-f]{40}$/.test(revision);
}

/** Whether HF_HUB_OFFLINE asks for no network, as huggingface_hub reads it. */
export function hub_offline(): boolean {
  const v = (process.env.HF_HUB_OFFLINE ?? "").toUpperCase();
  return v === "1" || v === "ON" || v === "YES" || v === "TRUE";
}

/** The snapshot folder of `revision` in the cache, or null when the cache does not hold it. */
export function cached_snapshot(repo_id: string, revision = "main", cache_dir: string | null | undefined = null): string | null {
  const repo = repo_folder(repo_id, cache_dir);
  let commit = revision;
  if (!is_commit_hash(revision)) {
    const ref = path.join(repo, "refs", revision);
    if (!existsSync(ref)) return null;
    commit = readFileSync(ref, "utf8").trim();
  }
  const snapshot = path.join(repo, "snapshots", commit);
  return existsSync(snapshot) ? snapshot : null;
}
