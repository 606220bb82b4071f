// Paths to the shared reference data, which CI lays beside the repository as ../shared.
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const referenceDir = resolve(repoRoot, "../shared/reference");
export const configPath = (name: string): string => resolve(referenceDir, "configs", `${name}.json`);
