// A TCP port nothing on this machine listens on now: the launcher's standalone rendezvous (as
// torchrun's picks one), and tests and benchmarks that start jobs of their own.
import net from "node:net";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}
