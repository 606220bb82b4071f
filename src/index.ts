// tessera: `import { torch } from "tessera"`.
import * as torch from "./torch/index.js";
// Registers what torch.moreh.option.enable_advanced_parallelization() does (higher layers).
import "./launch/advanced_parallelization.js";

export { torch };
// Python's builtin exception classes (torch.OutOfMemoryError is under torch, as in PyTorch).
export { RuntimeError, ValueError, IndexError, NotImplementedError } from "./torch/errors.js";
