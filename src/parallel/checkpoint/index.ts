// Checkpoints of a training job (docs/checkpoints.md): sharded saves that every rank writes in
// parallel, loads that reshard to any plan or world size, HF-style checkpoint-STEP folders with
// rotation, and a merge into a plain HF model folder.
export { save_checkpoint, type CheckpointState, type SaveCheckpointOptions, type Stateful } from "./save.js";
export { load_checkpoint } from "./load.js";
export { merge_checkpoint } from "./merge.js";
export { checkpoints, commitFolder, freshStagingFolder, latest_checkpoint, rotate_checkpoints, stagingFolder } from "./folders.js";
export { METADATA_FILE, readMetadata, type CheckpointMetadata } from "./format.js";
