// tessera/transformers: `import { AutoTokenizer } from "tessera/transformers"`.
export * from "./tokenization/index.js";
