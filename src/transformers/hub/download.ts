// Downloads a model repository into the Hugging Face cache (the layout of ./cache.ts), as
// huggingface_hub's snapshot_download: the revision's file list from the hub API
// (GET {endpoint}/api/models/{repo}/revision/{revision}), then each file from
// {endpoint}/{repo}/resolve/{commit}/{file} into blobs/<etag>, linked from snapshots/<commit>/<file>.
// The endpoint is HF_ENDPOINT (default https://huggingface.co). Every file is written under a
// temporary name and renamed into place, so an interrupted download leaves nothing half-written.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { is_commit_hash, repo_folder, type HubOptions } from "./cache.js";

export interface SnapshotDownloadOptions extends HubOptions {
  /** The hub's address (default: HF_ENDPOINT, else https://huggingface.co). */
  endpoint?: string;
}

// Weights of other frameworks, which a PyTorch load never reads; *.bin and *.pth only when the
// revision has safetensors.
const OTHER_FRAMEWORKS = [".h5", ".msgpack", ".ot", ".onnx", ".tflite", ".gguf", ".mlmodel"];
const PICKLED_WEIGHTS = [".bin", ".pth", ".pt"];

function endpointOf(o: SnapshotDownloadOptions): string {
  return (o.endpoint ?? process.env.HF_ENDPOINT ?? "https://huggingface.co").replace(/\/+$/, "");
}

function headersOf(o: SnapshotDownloadOptions): Record<string, string> {
  const token = o.token ?? process.env.HF_TOKEN ?? null;
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function get(url: string, headers: Record<string, string>, what: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { headers, redirect: "follow", signal: AbortSignal.timeout(60_000) });
  } catch (e) {
    throw new HubConnectionError(`${what}: cannot reach ${url}: ${(e as Error).cause ?? (e as Error).message}`);
  }
  if (res.status === 401 || res.status === 403 || res.status === 404) {
    throw new Error(`${what}: ${url} answered ${res.status} (repository or revision not found, or private without a token: set HF_TOKEN)`);
  }
  if (!res.ok) throw new Error(`${what}: ${url} answered ${res.status} ${res.statusText}`);
  return res;
}

/** The hub could not be reached (as opposed to answering no): a cached copy may stand in. */
export class HubConnectionError extends Error {
  override name = "HubConnectionError";
}

function wanted(files: string[]): string[] {
  const safetensors = files.some((f) => f.endsWith(".safetensors"));
  return files.filter((f) => {
    const ext = path.extname(f);
    if (OTHER_FRAMEWORKS.includes(ext)) return false;
    return !(safetensors && PICKLED_WEIGHTS.includes(ext));
  });
}

function safeRelative(file: string, repo_id: string): string {
  const norm = path.posix.normalize(file);
  if (norm.startsWith("../") || norm.startsWith("/") || norm === "..")
    throw new Error(`snapshot_download(${repo_id}): the hub listed an unsafe file name ${JSON.stringify(file)}`);
  return norm;
}

function writeAtomic(file: string, data: string | Uint8Array): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.incomplete`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

/** Downloads `repo_id` at `revision` into the cache (files already there are kept) and returns its snapshot folder. */
export async function snapshot_download(repo_id: string, options: SnapshotDownloadOptions = {}): Promise<string> {
  const revision = options.revision ?? "main";
  const what = `snapshot_download(${repo_id}@${revision})`;
  const endpoint = endpointOf(options);
  const headers = headersOf(options);
  const info = (await (await get(`${endpoint}/api/models/${repo_id}/revision/${encodeURIComponent(revision)}`, headers, what)).json()) as {
    sha?: unknown;
    siblings?: { rfilename?: unknown }[];
  };
  const commit = info.sha;
  if (typeof commit !== "string" || !is_commit_hash(commit))
    throw new Error(`${what}: the hub API gave no commit hash (sha) for the revision`);
  const files = wanted((info.siblings ?? []).map((s) => s.rfilename).filter((f): f is string => typeof f === "string")).map((f) =>
    safeRelative(f, repo_id),
  );
  const repo = repo_folder(repo_id, options.cache_dir);
  const snapshot = path.join(repo, "snapshots", commit);
  for (const file of files) {
    const link = path.join(snapshot, file);
    if (existsSync(link)) continue;
    const res = await get(`${endpoint}/${repo_id}/resolve/${commit}/${file.split("/").map(encodeURIComponent).join("/")}`, headers, what);
    const data = new Uint8Array(await res.arrayBuffer());
    // The blob's name is the file's ETag (the LFS sha256 for large files), as huggingface_hub names it.
    const etag = (res.headers.get("x-linked-etag") ?? res.headers.get("etag") ?? "").replace(/^W\//, "").replace(/"/g, "");
    const blob = path.join(repo, "blobs", etag !== "" ? etag : createHash("sha256").update(data).digest("hex"));
    if (!existsSync(blob)) writeAtomic(blob, data);
    mkdirSync(path.dirname(link), { recursive: true });
    const tmpLink = `${link}.${process.pid}.incomplete`;
    rmSync(tmpLink, { force: true });
    symlinkSync(path.relative(path.dirname(link), blob), tmpLink);
    renameSync(tmpLink, link);
  }
  mkdirSync(snapshot, { recursive: true });
  if (revision !== commit) writeAtomic(path.join(repo, "refs", revision), commit);
  return snapshot;
}
