// Issue 19, finding 8: what a rank reads from the rendezvous store is checked before use. A record
// that is not sealed with the job's token (written by a process outside the job) is refused by
// name; a sealed one that is garbage (a corrupt world size, a Gloo record with a huge length, a
// wrong address family, a cut-short body) is an error naming the key and what is wrong, at once:
// not std::bad_alloc, a crash, or a wait for the timeout. The server itself (libtorch's) bounds the
// lengths it reads from the wire.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { torch } from "../../src/index.js";
import { jobStore } from "../../src/torch/distributed/job_store.js";

const dist = torch.distributed;
const TIMEOUT_MS = 20_000;

/** A job's rank 0 stand-in: the store's server; each test writes rank 0's records into it, sealed or not. */
function rank0Store(): { port: number; master: InstanceType<typeof dist.TCPStore> } {
  const master = new dist.TCPStore("127.0.0.1", 0, { is_master: true, world_size: 2, wait_for_workers: false, timeout: TIMEOUT_MS });
  return { port: master.port, master };
}

/** Joins as rank 1 of 2 with `token`; returns the error it failed with and how long that took. */
function joinAsRank1(port: number, token: string): { message: string; ms: number } {
  const saved = process.env.TESSERA_JOB_TOKEN;
  process.env.TESSERA_JOB_TOKEN = token;
  const start = Date.now();
  try {
    dist.init_process_group({ backend: "gloo", init_method: `tcp://127.0.0.1:${port}`, rank: 1, world_size: 2, timeout: TIMEOUT_MS });
    dist.destroy_process_group();
    return { message: "joined", ms: Date.now() - start };
  } catch (e) {
    return { message: (e as Error).message, ms: Date.now() - start };
  } finally {
    if (saved === undefined) delete process.env.TESSERA_JOB_TOKEN;
    else process.env.TESSERA_JOB_TOKEN = saved;
  }
}

/** Bytes below 0x80 as a store value (a JS string of those code units is those bytes in UTF-8). */
const ascii = (bytes: number[]): string => {
  assert.ok(bytes.every((b) => b >= 0 && b < 0x80));
  return String.fromCharCode(...bytes);
};
const u64 = (n: number): number[] => Array.from({ length: 8 }, (_, i) => Math.floor(n / 2 ** (8 * i)) % 256);

/**
 * A Gloo TCP rank record (gloo::transport::tcp::Rank::bytes) with the given fields. Its address is
 * 120 bytes (Gloo's are 136, which is not a byte below 0x80): each case breaks one other field.
 */
function glooRecord(o: { hostLength?: number; addrLength?: number; family?: number; pairBytes?: number } = {}): string {
  const host = [...Buffer.from("host")];
  const addr = Array.from({ length: 120 }, () => 0);
  addr[0] = o.family ?? 2;
  return ascii([
    ...u64(o.hostLength ?? host.length),
    ...host,
    ...u64(o.addrLength ?? addr.length),
    ...addr,
    ...Array.from({ length: o.pairBytes ?? 16 }, () => 0),
  ]);
}

test("a non-member without the token reads only sealed bytes, and a record it writes is refused by name", () => {
  const token = randomBytes(32).toString("hex");
  const { port, master } = rank0Store();
  jobStore(master, token).set("tessera/world_size/0", "2");
  const outsider = new dist.TCPStore("127.0.0.1", port, { is_master: false, world_size: 2, timeout: TIMEOUT_MS });
  const seen = outsider.get("tessera/world_size/0");
  assert.notEqual(seen, "2");
  assert.ok(seen.startsWith("TSJ1"), JSON.stringify(seen));
  // The outsider replaces rank 0's record with a plausible one of its own.
  outsider.set("tessera/world_size/0", "2");
  const r = joinAsRank1(port, token);
  assert.match(
    r.message,
    /rank 1 of 2 could not connect the gloo process group: store key 'tessera\/world_size\/0': the record \(1 bytes\) is not sealed with this job's token/,
  );
  assert.ok(r.ms < TIMEOUT_MS / 2, `refused after ${r.ms} ms`);
});

test("a Gloo record written by a non-member is refused before Gloo parses it", () => {
  const token = randomBytes(32).toString("hex");
  const { port, master } = rank0Store();
  jobStore(master, token).set("tessera/world_size/0", "2");
  master.set("default_pg//0/0", glooRecord({ hostLength: 2 ** 40 }));
  const r = joinAsRank1(port, token);
  assert.match(r.message, /store key 'default_pg\/\/0\/0': the record \(\d+ bytes\) is not sealed with this job's token/);
  assert.ok(r.ms < TIMEOUT_MS / 2, `refused after ${r.ms} ms`);
});

test("a rank started with another token is refused by name", () => {
  const { port, master } = rank0Store();
  jobStore(master, randomBytes(32).toString("hex")).set("tessera/world_size/0", "2");
  const r = joinAsRank1(port, randomBytes(32).toString("hex"));
  assert.match(r.message, /store key 'tessera\/world_size\/0': the record \(\d+ bytes\) is not sealed with this job's token/);
});

test("a corrupt world-size record is named with what it holds", () => {
  const cases: [string, RegExp][] = [
    ["-1", /got "-1"/],
    ["99999999999", /got "99999999999"/],
    ["2.5", /got "2.5"/],
    ["0", /got "0"/],
    ["", /got ""/],
    ["x".repeat(1 << 20), /got "x{40}"\.\.\. \(1048576 characters\)/],
  ];
  for (const [value, shown] of cases) {
    const token = randomBytes(32).toString("hex");
    const { port, master } = rank0Store();
    jobStore(master, token).set("tessera/world_size/0", value);
    const r = joinAsRank1(port, token);
    assert.match(r.message, /store key 'tessera\/world_size\/0': expected a world size \(a positive integer\), got /, value.slice(0, 20));
    assert.match(r.message, shown);
    assert.ok(r.ms < TIMEOUT_MS / 2, `refused after ${r.ms} ms`);
  }
});

test("a malformed Gloo rank record is named with what is wrong, not std::bad_alloc or a crash", () => {
  const cases: [string, RegExp][] = [
    [glooRecord({ hostLength: 2 ** 40 }), /hostname length 1099511627776 is over 1024/],
    [ascii([1, 2, 3, 4]), /it ends before its hostname length/],
    [glooRecord({ addrLength: 0x7f7f7f7f }), /address length 2139062143 is not in 2\.\.192/],
    [glooRecord({ family: 1 }), /address family 1 is neither IPv4 nor IPv6/],
    [glooRecord({ pairBytes: 3 }), /3 bytes of pair identifiers, expected 0 or 16/],
    [glooRecord({ hostLength: 4 }).slice(0, 30), /its address is cut short/],
  ];
  for (const [record, what] of cases) {
    const token = randomBytes(32).toString("hex");
    const { port, master } = rank0Store();
    const sealed = jobStore(master, token);
    sealed.set("tessera/world_size/0", "2");
    sealed.set("default_pg//0/0", record);
    const r = joinAsRank1(port, token);
    assert.match(r.message, /Gloo rendezvous record '0\/0' \(\d+ bytes\) of rank 0 is malformed: /);
    assert.match(r.message, what);
    assert.ok(r.ms < TIMEOUT_MS / 2, `refused after ${r.ms} ms`);
  }
});

/** Sends `payload` to the store's port and resolves when the server closes the connection. */
function sendRaw(port: number, payload: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => s.write(payload));
    let got = 0;
    s.on("data", (d: Buffer) => (got += d.length));
    s.on("close", () => resolve(got));
    s.on("error", reject);
  });
}

test("the store's server refuses absurd lengths on the wire (a key or value of 2^40 bytes, 2^40 keys) and keeps serving", async () => {
  const { port, master } = rank0Store();
  master.set("k", "v");
  const u64le = (n: bigint): Buffer => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(n);
    return b;
  };
  // c10d's wire: a VALIDATE query (0) with its magic number, then SET (1) key value, or MULTI_GET (10) count keys.
  const hello = Buffer.from([0, 0xce, 0xf7, 0x85, 0x3c]);
  const huge = u64le(1n << 40n);
  for (const attack of [
    Buffer.concat([hello, Buffer.from([1]), huge]),
    Buffer.concat([hello, Buffer.from([1]), u64le(1n), Buffer.from("a"), huge]),
    Buffer.concat([hello, Buffer.from([10]), huge]),
  ]) {
    assert.equal(await sendRaw(port, attack), 0, "the server answered an absurd request");
  }
  const client = new dist.TCPStore("127.0.0.1", port, { is_master: false, world_size: 2, timeout: TIMEOUT_MS });
  assert.equal(client.get("k"), "v");
});
