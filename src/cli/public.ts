// `cli` from "tessera": what a script shares with tessera's commands (script.ts), and the commands
// a tutorial step is (`tessera prepare`).
export * from "./script.js";
export { main as prepare } from "./prepare.js";
