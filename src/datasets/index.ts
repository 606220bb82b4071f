// tessera/datasets: `import { load_dataset } from "tessera/datasets"`, Hugging Face datasets' names.
export {
  Dataset,
  DatasetDict,
  type DatasetDictOf,
  type Row,
  type Batch,
  type MapOptions,
  type TrainTestSplitOptions,
  type FormatOptions,
} from "./arrow_dataset.js";
export { load_dataset, type LoadDatasetOptions, type DataFiles } from "./load.js";
export type { BuilderName, BuilderOptions } from "./builders.js";
