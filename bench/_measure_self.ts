// Every Python-beside bench reruns its own file in a child process for the tessera side, started as
// `tessera run` starts a script (its young-generation flag), so that both sides are fresh processes.
import { fileURLToPath } from "node:url";
import { YOUNG_GENERATION_FLAG } from "../src/launch/node_flags.js";

/** node's arguments that rerun the bench at `moduleUrl` (its `import.meta.url`) in `--measure` mode with `args`. */
export function measureSelfArgs(moduleUrl: string, ...args: string[]): string[] {
  return [YOUNG_GENERATION_FLAG, "--import", "tsx", fileURLToPath(moduleUrl), "--measure", ...args];
}
