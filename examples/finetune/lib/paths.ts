// The embedded default's files, found relative to this folder so the scripts run from any directory.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

export const DEFAULT_CONFIG_DIR = join(root, "config");
export const DEFAULT_TRAIN_DATA = join(root, "data", "train.jsonl");
export const DEFAULT_HELDOUT_DATA = join(root, "data", "heldout.jsonl");
