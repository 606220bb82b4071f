// Paths to the reference data the repository carries (reference/: published configs and Megatron's
// throughput table, copied from the project's shared folder with their sources in its README).
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const referenceDir = resolve(repoRoot, "reference");
export const configPath = (name: string): string => resolve(referenceDir, "configs", `${name}.json`);
