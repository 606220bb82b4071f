// The size at which DDP's Reducer closes a gradient bucket (PyTorch's bucket_cap_mb default, 25):
// the executor's (data_parallel.ts) and the planner's count of its messages (planner/communication.ts).
export const DDP_BUCKET_BYTES = 25 * 1024 * 1024;
