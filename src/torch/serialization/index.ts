// torch.save / torch.load (PyTorch's zip format) and safetensors, including HF sharded checkpoints.
export { save } from "./save.js";
export { load, type LoadOptions, type MapLocation } from "./load.js";
