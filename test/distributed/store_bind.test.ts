// Issue 19, finding 8: a TCPStore server listens on the address it was given (libtorch's listens on
// every interface, IPv4 and IPv6), so the rendezvous store of a single-machine job, and of every
// single-process training run, cannot be reached from another machine.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import net from "node:net";
import { torch } from "../../src/index.js";

const dist = torch.distributed;

/** The local addresses (as /proc/net/tcp{,6} writes them) of the sockets listening on `port`. */
function listeners(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const out: string[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(file, "utf8").split("\n").slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      // State 0A is LISTEN.
      if (state === "0A" && local?.endsWith(`:${hexPort}`)) out.push(local.slice(0, -5));
    }
  }
  return out;
}

const LOOPBACK_V4 = "0100007F";
const LOOPBACK_V6 = "00000000000000000000000001000000";

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

test("a TCPStore given 127.0.0.1 or localhost listens there only, and still serves its clients", () => {
  const store = new dist.TCPStore("127.0.0.1", 0, { is_master: true, world_size: 1, wait_for_workers: false });
  assert.deepEqual(listeners(store.port), [LOOPBACK_V4]);
  const client = new dist.TCPStore("127.0.0.1", store.port, { is_master: false, world_size: 1 });
  client.set("k", "v");
  assert.equal(store.get("k"), "v");
  const local = new dist.TCPStore("localhost", 0, { is_master: true, world_size: 1, wait_for_workers: false });
  const addrs = listeners(local.port);
  assert.equal(addrs.length, 1);
  assert.ok([LOOPBACK_V4, LOOPBACK_V6].includes(addrs[0]!), addrs[0]);
});

test("a one-rank process group (a single-process run) rendezvouses on a loopback-only store", async () => {
  const port = await freePort();
  dist.init_process_group({ backend: "gloo", init_method: `tcp://127.0.0.1:${port}`, rank: 0, world_size: 1 });
  try {
    assert.deepEqual(listeners(port), [LOOPBACK_V4]);
    const t = torch.ones(2);
    dist.all_reduce(t);
    assert.deepEqual(t.tolist(), [1, 1]);
  } finally {
    dist.destroy_process_group();
  }
});
