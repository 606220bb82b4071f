// Process settings and versions: torch.get_num_threads, torch.set_num_threads, torch.version.
import { native } from "./_native.js";

export function get_num_threads(): number {
  return native.getNumThreads();
}

export function set_num_threads(n: number): void {
  native.setNumThreads(n);
}

const v = native.versions();

/** torch.version: the libtorch release underneath, and whether it was built with CUDA. */
export const version = Object.freeze({ __version__: v.torch, cuda: v.cuda ? "available" : null, config: v.config });
