// The supervisor of a self-launched job: `self_supervisor.ts N PORT <node args...> script [args]`
// runs ranks 1..N-1 of the script (rank 0 is the process that started it, whose store listens on
// PORT) with one merged log, and exits with their code. When rank 0 ends (its pipe to our stdin
// closes) the others are stopped; when one of them fails, rank 0 is stopped too, so that nobody
// waits in a collective for a rank that is gone.
import { supervise, workerEnv, type NodeSpec, type ProcSpec } from "./workers.js";

const KILL_GRACE_MS = 3000;
const [n, port, ...command] = process.argv.slice(2);
const spec: NodeSpec = {
  command: [process.execPath, ...command],
  nprocPerNode: Number(n),
  nnodes: 1,
  nodeRank: 0,
  masterAddr: "127.0.0.1",
  masterPort: Number(port),
};
const specs = Array.from(
  { length: spec.nprocPerNode - 1 },
  (_, i): ProcSpec => ({
    name: `rank ${i + 1}`,
    command: spec.command,
    env: workerEnv(spec, i + 1),
    prefix: `[rank${i + 1}]: `,
    heartbeat: true,
  }),
);

const rank0 = process.ppid;
let rank0Gone = false;
const onRank0End = (): void => {
  rank0Gone = true;
  // Rank 0 ended: the ranks still running can only wait for it in vain.
  process.kill(process.pid, "SIGTERM");
};
process.stdin.on("close", onRank0End);
process.stdin.resume();

const code = await supervise(specs);
if (code !== 0 && !rank0Gone) {
  try {
    process.kill(rank0, "SIGTERM");
    setTimeout(() => {
      try {
        process.kill(rank0, "SIGKILL");
      } catch {
        // already gone
      }
    }, KILL_GRACE_MS).unref();
  } catch {
    // already gone
  }
}
process.exitCode = code;
process.stdin.off("close", onRank0End);
process.stdin.destroy();
