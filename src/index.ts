// tessera: `import { torch } from "tessera"`.
import * as torch from "./torch/index.js";
// Registers what torch.moreh.option.enable_advanced_parallelization() does (higher layers).
import "./launch/advanced_parallelization.js";

export { torch };
// Python's builtin exception classes (torch.OutOfMemoryError is under torch, as in PyTorch).
export { RuntimeError, ValueError, IndexError, NotImplementedError } from "./torch/errors.js";
// What a training script needs beyond torch and transformers, under one import: the planner's model
// profiles and FLOP counts, sharded checkpoints (parallel.checkpoint), and the CLI's option checks.
export * as parallel from "./parallel/index.js";
export * as cli from "./cli/public.js";
