// tessera/transformers: `import { AutoTokenizer } from "tessera/transformers"`.
export * from "./tokenization/index.js";
export { get_linear_schedule_with_warmup, get_cosine_schedule_with_warmup } from "./optimization.js";
