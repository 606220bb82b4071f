// tessera: `import { torch } from "tessera"`.
import * as torch from "./torch/index.js";

export { torch };
