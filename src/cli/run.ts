// `tessera run [launcher flags] <script.ts> [args]`: the torchrun-compatible launcher (src/launch).
import { parseRunArgs, USAGE } from "../launch/args.js";
import { launch } from "../launch/launcher.js";

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h") {
    console.log(USAGE);
    return argv.length === 0 ? 2 : 0;
  }
  try {
    return await launch(parseRunArgs(argv));
  } catch (e) {
    console.error(`tessera run: ${(e as Error).message}`);
    return 2;
  }
}
