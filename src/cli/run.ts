// `tessera run <script.ts> [args]`: runs a TypeScript training script with tessera importable and
// TypeScript compiled on the fly (tsx), forwarding signals and the exit code.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

const USAGE = `usage: tessera run <script.ts|script.js> [script args...]

Runs the script with Node.js and tessera's TypeScript loader.`;

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h") {
    console.log(USAGE);
    return argv.length === 0 ? 2 : 0;
  }
  const [script, ...args] = argv;
  const file = path.resolve(script);
  if (!existsSync(file)) {
    console.error(`tessera run: script not found: ${script}`);
    return 2;
  }
  // The loader is resolved from tessera itself, so scripts outside the repo work too.
  const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), file, ...args], { stdio: "inherit" });
  const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
  process.on("SIGINT", forward("SIGINT"));
  process.on("SIGTERM", forward("SIGTERM"));
  return await new Promise<number>((resolve) => {
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 + (signal === "SIGINT" ? 2 : 15) : 1)));
  });
}
