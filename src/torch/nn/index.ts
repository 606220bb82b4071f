// torch.nn.
import * as functional from "./functional.js";
import * as init from "./init.js";
import * as utils from "./utils/index.js";

export { functional, init, utils };
export { Parameter } from "./parameter.js";
export {
  Module,
  type ForwardHook,
  type ForwardPreHook,
  type IncompatibleKeys,
  type ModuleToOptions,
  type StateDict,
} from "./modules/module.js";
export { Sequential, ModuleList, ModuleDict } from "./modules/container.js";
export { Linear, type LinearOptions } from "./modules/linear.js";
export { Embedding, type EmbeddingModuleOptions } from "./modules/sparse.js";
export { LayerNorm, RMSNorm, type LayerNormOptions, type RMSNormOptions } from "./modules/normalization.js";
export { ReLU, SiLU, GELU, Tanh, Dropout } from "./modules/activation.js";
export { CrossEntropyLoss, MSELoss } from "./modules/loss.js";
export type { FactoryOptions } from "./modules/_factory.js";
export * as parallel from "./parallel/index.js";
