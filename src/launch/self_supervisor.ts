// The supervisor of a self-launched job: `self_supervisor.ts N <node args...> script [args]` runs
// the script as N local ranks with one merged log and exits with the job's code.
import net from "node:net";
import { runWorkers } from "./workers.js";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

const [n, ...command] = process.argv.slice(2);
process.exitCode = await runWorkers({
  command: [process.execPath, ...command],
  nprocPerNode: Number(n),
  nnodes: 1,
  nodeRank: 0,
  masterAddr: "127.0.0.1",
  masterPort: await freePort(),
  prefixRank0: false,
});
