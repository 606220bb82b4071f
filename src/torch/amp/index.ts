// torch.amp.
export { autocast, is_autocast_available, is_autocast_enabled, get_autocast_dtype, type AutocastOptions } from "./autocast_mode.js";
export { GradScaler, type GradScalerOptions, type GradScalerState } from "./grad_scaler.js";
