// Subgroups, send/recv and batch_isend_irecv on 4 Gloo ranks; timeouts and bad rendezvous give clear errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { runNodeScript } from "../helpers/node_script.js";
import { runRanks } from "./_spawn.js";

test("subgroups and point-to-point on 4 ranks", async () => {
  const ranks = await runRanks("groups_p2p.ts", 4);
  for (const [r, o] of ranks.entries()) assert.equal(o.code, 0, `rank ${r} failed:\n${o.stderr}`);
  for (const [rank, o] of ranks.entries()) {
    const out = o.result as Record<string, unknown>;
    const pairSum = rank < 2 ? 3 : 7;
    assert.deepEqual(out.pair_sum, [pairSum, pairSum, pairSum]);
    assert.equal(out.pair_rank, rank % 2);
    assert.equal(out.pair_size, 2);
    assert.deepEqual(out.pair_broadcast, rank < 2 ? [10, 10] : [30, 30]);
    assert.deepEqual(out.evens_max, rank % 2 === 0 ? [2] : [rank]);
    assert.equal(out.evens_rank, rank % 2 === 0 ? rank / 2 : -1);
    const prev = (rank + 3) % 4;
    assert.deepEqual(out.ring, [prev, prev, prev, prev]);
    assert.deepEqual(out.batch_ring, [7 * prev, 7 * prev]);
    const peer = rank ^ 1;
    assert.equal(out.recv_from, peer);
    assert.deepEqual(out.pair_recv, [peer + 0.5, peer + 0.5, peer + 0.5]);
    assert.match(out.bad_src as string, rank < 2 ? /src=2 is not a member of the group/ : /src=0 is not a member of the group/);
  }
});

test("a collective a peer never joins fails with a timeout error", async () => {
  const ranks = await runRanks("timeout.ts", 2);
  assert.equal(ranks[0].code, 0, ranks[0].stderr);
  const { error } = ranks[0].result as { error: string };
  assert.match(error, /torch\.distributed\.all_reduce failed: .*[Tt]imed out/);
});

test("a rendezvous with a missing rank fails with a timeout error", () => {
  const store = path.join(mkdtempSync(path.join(os.tmpdir(), "tessera-dist-")), "store");
  const code = `import { torch } from "./src/index.js";
try { torch.distributed.init_process_group({ backend: "gloo", init_method: "file://${store}", rank: 0, world_size: 2, timeout: 1000 }); }
catch (e) { console.log("ERR " + e.message.split("\\n")[0]); }`;
  const r = runNodeScript(code);
  assert.match(
    r.stdout,
    /ERR torch\.distributed\.init_process_group: rank 0 of 2 could not connect the gloo process group: .*[Tt]imeout|ERR .*[Tt]imed out/,
  );
});

test("env:// without the launcher's variables names the missing one", () => {
  const code = `import { torch } from "./src/index.js";
try { torch.distributed.init_process_group({ backend: "gloo" }); } catch (e) { console.log("ERR " + e.message); }`;
  const env = { ...process.env };
  for (const k of ["RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"]) delete env[k];
  const r = runNodeScript(code, env);
  assert.match(
    r.stdout,
    /ERR Error initializing torch.distributed using env:\/\/ rendezvous: environment variable RANK expected, but not set/,
  );
});

test("a number where a collective takes a tensor is an error, never read as a tensor handle", () => {
  const store = path.join(mkdtempSync(path.join(os.tmpdir(), "tessera-dist-")), "store");
  const code = `import { torch } from "./src/index.js";
const dist = torch.distributed;
dist.init_process_group({ backend: "gloo", init_method: "file://${store}", rank: 0, world_size: 1 });
const t = torch.ones(3);
for (const f of [() => dist.all_reduce(1), () => dist.all_gather([2], t), () => dist.broadcast(3, 0)]) {
  try { f(); console.log("OK"); } catch (e) { console.log("ERR " + e.message); }
}
dist.destroy_process_group();`;
  const r = runNodeScript(code);
  assert.deepEqual(
    r.stdout.trim().split("\n"),
    [
      "ERR torch.distributed.all_reduce: tensor must be a Tensor, got int",
      "ERR torch.distributed.all_gather: tensor_list[0] must be a Tensor, got int",
      "ERR torch.distributed.broadcast: tensor must be a Tensor, got int",
    ],
    r.stderr,
  );
});
