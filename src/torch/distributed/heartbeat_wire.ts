// What a launched worker's heartbeat (heartbeat.ts) says to `tessera run` (workers.ts): the variable
// naming the pipe and the launcher, and the bytes. Apart from heartbeat.ts so that the launcher
// reads it without loading libtorch.

/** "<fd>:<launcher pid>": the pipe to the launcher, valid only in the launcher's own children. */
export const HEARTBEAT_ENV = "TESSERA_HEARTBEAT";
/** 'p' progressing, 'w' waiting for the other ranks, 'd' done (the process group was destroyed). */
export type BeatState = "p" | "w" | "d";
