// `tessera/safetensors`: Python's `safetensors.torch` (save_file, load_file, safe_open) and HF
// sharded checkpoints.
export {
  safe_open,
  load_file,
  save_file,
  SafeOpen,
  split_torch_state_dict_into_shards,
  save_torch_state_dict,
  load_torch_state_dict,
} from "./torch/serialization/index.js";
