// `torch.autocast` at the top level, as in PyTorch (the implementation lives in torch.amp).
export { autocast } from "./amp/autocast_mode.js";
