// A local stand-in for the Hugging Face hub, in the hub's URL layout, for the download tests:
//   GET /api/models/{repo}/revision/{revision}  -> {"sha", "siblings": [{"rfilename"}]}
//   GET|HEAD /{repo}/resolve/{revision}/{file}  -> the file, with X-Repo-Commit and ETag; safetensors
//     files redirect (302) to /lfs/... and carry X-Linked-Etag, as the hub's LFS files do.
// argv[2]: JSON {repo_id: {dir, sha}}. Prints the port, then one line per request served.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import http from "node:http";
import path from "node:path";

const repos = JSON.parse(process.argv[2]) as Record<string, { dir: string; sha: string }>;

function filesOf(dir: string, prefix = ""): string[] {
  return readdirSync(dir).flatMap((f) =>
    statSync(path.join(dir, f)).isDirectory() ? filesOf(path.join(dir, f), `${prefix}${f}/`) : [`${prefix}${f}`],
  );
}

function findRepo(parts: string[]): [string, string[]] | null {
  for (const n of [2, 1]) {
    const id = parts.slice(0, n).join("/");
    if (repos[id] !== undefined) return [id, parts.slice(n)];
  }
  return null;
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://x");
  const parts = url.pathname
    .split("/")
    .filter((p) => p !== "")
    .map(decodeURIComponent);
  console.log(`${req.method} ${url.pathname}`);
  const notFound = (): void => void res.writeHead(404, { "x-error-code": "RepoNotFound" }).end("not found");
  if (parts[0] === "api" && parts[1] === "models") {
    const found = findRepo(parts.slice(2));
    if (found === null || found[1][0] !== "revision") return notFound();
    const [id, rest] = found;
    const { dir, sha } = repos[id];
    if (rest[1] !== "main" && rest[1] !== sha) return notFound();
    res.writeHead(200, { "content-type": "application/json" });
    return void res.end(JSON.stringify({ id, sha, siblings: filesOf(dir).map((rfilename) => ({ rfilename })) }));
  }
  const lfs = parts[0] === "lfs";
  const found = findRepo(lfs ? parts.slice(1) : parts);
  if (found === null || found[1][0] !== "resolve") return notFound();
  const [id, [, revision, ...fileParts]] = found;
  const { dir, sha } = repos[id];
  const file = fileParts.join("/");
  if ((revision !== "main" && revision !== sha) || !filesOf(dir).includes(file)) return notFound();
  const data = readFileSync(path.join(dir, file));
  const etag = createHash(file.endsWith(".safetensors") ? "sha256" : "sha1")
    .update(data)
    .digest("hex");
  const headers: Record<string, string> = { "x-repo-commit": sha, etag: `"${etag}"`, "content-length": String(data.length) };
  if (file.endsWith(".safetensors") && !lfs) {
    res.writeHead(302, {
      ...headers,
      "x-linked-etag": `"${etag}"`,
      "x-linked-size": String(data.length),
      location: `/lfs${url.pathname}`,
      "content-length": "0",
    });
    return void res.end();
  }
  res.writeHead(200, headers);
  res.end(req.method === "HEAD" ? undefined : data);
});

server.listen(0, "127.0.0.1", () => {
  const addr = server.address();
  console.log(typeof addr === "object" && addr !== null ? addr.port : "");
});
