// torch.distributed: c10d stores and process groups (Gloo; NCCL in CUDA builds) with PyTorch's API.
export { init_process_group, is_available, is_gloo_available, is_nccl_available, type InitProcessGroupOptions } from "./init.js";
export {
  ProcessGroup,
  GroupMember,
  new_group,
  is_initialized,
  get_rank,
  get_world_size,
  get_backend,
  destroy_process_group,
  _get_default_store,
  type Backend,
  type Group,
  type NewGroupOptions,
} from "./process_group.js";
export {
  ReduceOp,
  all_reduce,
  broadcast,
  all_gather,
  all_gather_into_tensor,
  reduce_scatter_tensor,
  all_to_all_single,
  barrier,
  send,
  recv,
  isend,
  irecv,
  P2POp,
  batch_isend_irecv,
  type CollectiveOptions,
  type ReduceOptions,
  type AllToAllOptions,
  type P2POptions,
} from "./collectives.js";
export { Work } from "./work.js";
export { _observe_collectives, type _CollectiveObserver } from "./collectives.js";
export { Store, TCPStore, FileStore, PrefixStore, default_pg_timeout, type TCPStoreOptions } from "./store.js";
export * as device_mesh from "./device_mesh.js";
export { DeviceMesh, init_device_mesh, type DeviceMeshOptions } from "./device_mesh.js";
