// torch.utils
export * as checkpoint from "./checkpoint.js";
export * as data from "./data/index.js";
export * as tensorboard from "./tensorboard/index.js";
