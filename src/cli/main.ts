// `tessera <command>`: dispatches to one module per subcommand, loaded lazily so that `tessera plan`
// never loads the native addon.
type Command = { summary: string; load: () => Promise<{ main(argv: string[]): Promise<number> }> };

const commands: Record<string, Command> = {
  run: { summary: "run a TypeScript training script with tessera", load: () => import("./run.js") },
  smi: { summary: "list devices with memory, utilization and processes", load: () => import("./smi.js") },
  prepare: { summary: "tokenize a .txt/.jsonl dataset into blocks saved with torch.save", load: () => import("./prepare.js") },
  plan: { summary: "plan Advanced Parallelization for a model and a cluster", load: () => import("./plan.js") },
  "merge-checkpoint": {
    summary: "merge a (sharded) training checkpoint into a plain HF model folder",
    load: () => import("./merge_checkpoint.js"),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length)) + 2;
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`);
  return `usage: tessera <command> [options]\n\ncommands:\n${lines.join("\n")}\n\nRun 'tessera <command> --help' for a command's options.\n\nexit codes: 0 ok, 2 bad usage or input, 1 failure while running (a command's --help lists any others).`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  // An own-key lookup: "constructor", "__proto__" or "toString" are unknown commands, not Object's.
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (command === undefined) {
    console.error(`tessera: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  return (await command.load()).main(rest);
}
