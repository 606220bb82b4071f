// The Hugging Face hub: its cache layout, downloads, and what from_pretrained's names resolve to.
export { cached_snapshot, hub_cache_dir, hub_offline, is_repo_id, repo_folder, type HubOptions } from "./cache.js";
export { HubConnectionError, snapshot_download, type SnapshotDownloadOptions } from "./download.js";
export { resolve_pretrained_folder } from "./resolve.js";
