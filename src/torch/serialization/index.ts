// torch.save / torch.load (PyTorch's zip format) and safetensors, including HF sharded checkpoints.
export { save } from "./save.js";
export { load, type LoadOptions, type MapLocation } from "./load.js";
export { safe_open, load_file, save_file, SafeOpen, type DeviceOption } from "./safetensors.js";
export {
  split_torch_state_dict_into_shards,
  save_torch_state_dict,
  load_torch_state_dict,
  parse_size_to_int,
  type SplitOptions,
  type SaveStateDictOptions,
  type StateDictSplit,
} from "./sharded.js";
