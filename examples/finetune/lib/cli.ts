// The tutorial's scripts parse arguments and exit as tessera's own commands do: the helpers are
// tessera's (`cli` from "tessera"), named here once for the scripts.
import { cli } from "tessera";

export const {
  EXIT_CODES,
  RunError,
  UsageError,
  asBadInput,
  existingDir,
  existingFile,
  isEntryPoint,
  nonNegativeInt,
  outputDir,
  parse,
  positiveInt,
  positiveNumber,
  runMain,
  string,
} = cli;
export type Values = cli.Values;
