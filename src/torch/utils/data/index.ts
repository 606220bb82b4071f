// torch.utils.data
export {
  Dataset,
  IterableDataset,
  TensorDataset,
  TensorDictDataset,
  Subset,
  random_split,
  type MapDataset,
  type StreamDataset,
  type Sized,
} from "./dataset.js";
export { Sampler, SequentialSampler, RandomSampler, SubsetRandomSampler, BatchSampler, type RandomSamplerOptions } from "./sampler.js";
export { DistributedSampler, type DistributedSamplerOptions } from "./distributed_sampler.js";
export { default_collate, default_convert, type Collated } from "./collate.js";
export { DataLoader, type DataLoaderOptions, type DataLoaderStateDict } from "./dataloader.js";
