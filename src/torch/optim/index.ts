// torch.optim.
import * as lr_scheduler from "./lr_scheduler.js";

export { lr_scheduler };
export {
  Optimizer,
  type BaseOptions,
  type OptimizerStateDict,
  type ParamGroup,
  type ParamGroupInput,
  type Params,
  type ParamState,
} from "./optimizer.js";
export { SGD, type SGDOptions } from "./sgd.js";
export { Adam, AdamW, type AdamOptions } from "./adam.js";
