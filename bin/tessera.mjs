#!/usr/bin/env node
// Entry point of the `tessera` CLI. TypeScript sources run through tsx's loader, so the CLI and the
// scripts it runs need no separate compile step.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
