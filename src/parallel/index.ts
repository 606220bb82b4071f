// `tessera/parallel`: the planner as a library (what `tessera plan` runs) and the plan contract.
export * from "./planner/index.js";
export * as checkpoint from "./checkpoint/index.js";
