// The child process behind the synchronous from_pretrained: runs snapshot_download for the JSON
// arguments in argv[2] and prints {"folder"} or {"error", "connection"} as one JSON line.
import { HubConnectionError, snapshot_download, type SnapshotDownloadOptions } from "./download.js";

const { repo_id, options } = JSON.parse(process.argv[2]) as { repo_id: string; options: SnapshotDownloadOptions };
try {
  console.log(JSON.stringify({ folder: await snapshot_download(repo_id, options) }));
} catch (e) {
  console.log(JSON.stringify({ error: (e as Error).message, connection: e instanceof HubConnectionError }));
}
