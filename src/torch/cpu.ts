// torch.cpu: the CPU allocator's statistics and cache under torch.cuda's names (memory_allocated,
// memory_reserved, empty_cache, ...), so code written for one device reads the same on the other.
// The statistics themselves are tessera's extension (PyTorch keeps none for the CPU); see cpu_memory.ts.
export {
  track_cpu_memory as track_memory,
  cpu_memory_allocated as memory_allocated,
  cpu_max_memory_allocated as max_memory_allocated,
  cpu_reset_peak_memory_stats as reset_peak_memory_stats,
  cpu_memory_reserved as memory_reserved,
  cpu_empty_cache as empty_cache,
  cpu_caching_allocator_stats as caching_allocator_stats,
  cpu_set_allocator_settings as set_allocator_settings,
  cpu_allocator_settings as allocator_settings,
} from "./cpu_memory.js";
