// torch.backends: switches for the kernel libraries libtorch calls.
export { mkldnn } from "./mkldnn.js";
