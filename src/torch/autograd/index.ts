// torch.autograd.
export { Function, FunctionCtx } from "./function.js";
export { backward, grad, type BackwardOptions, type GradOptions } from "./engine.js";
export { no_grad, enable_grad, set_grad_enabled, is_grad_enabled, inference_mode, is_inference_mode_enabled } from "./grad_mode.js";
