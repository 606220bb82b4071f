// Every Python-beside bench reruns its own file in a child process for the tessera side, started as
// `tessera run` starts a script (its heap flags), so that both sides are fresh processes.
import { fileURLToPath } from "node:url";
import { HEAP_FLAGS } from "../src/launch/node_flags.js";

/** node's arguments that rerun the bench at `moduleUrl` (its `import.meta.url`) in `--measure` mode with `args`. */
export function measureSelfArgs(moduleUrl: string, ...args: string[]): string[] {
  return [...HEAP_FLAGS, "--import", "tsx", fileURLToPath(moduleUrl), "--measure", ...args];
}
