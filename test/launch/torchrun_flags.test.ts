// The seed's own torchrun flags are accepted with torchrun's meaning: --standalone (one node, a free
// local port), --rdzv_backend c10d, --rdzv_endpoint host:port, --rdzv_id, underscore spellings.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseRunArgs } from "../../src/launch/args.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");

test("torchrun's rendezvous flags parse to the launcher's", () => {
  const a = parseRunArgs(["--standalone", "--nproc_per_node=2", "--rdzv_backend=c10d", "--rdzv_id", "job7", "train.ts", "--lr", "1"]);
  assert.equal(a.standalone, true);
  assert.equal(a.nprocPerNode, "2");
  assert.equal(a.runId, "job7");
  assert.deepEqual([a.script, a.scriptArgs], ["train.ts", ["--lr", "1"]]);
  const b = parseRunArgs(["--nnodes=2", "--node_rank=1", "--rdzv-endpoint=h0:29400", "x.ts"]);
  assert.deepEqual([b.masterAddr, b.masterPort, b.standalone], ["h0", 29400, false]);
  const c = parseRunArgs(["--rdzv_endpoint=localhost:0", "--nproc_per_node=2", "x.ts"]);
  assert.deepEqual([c.masterAddr, c.masterPort, c.standalone], ["localhost", null, true]);
  assert.throws(() => parseRunArgs(["--rdzv_backend=etcd", "x.ts"]), /--rdzv-backend etcd: tessera rendezvous through a TCP store/);
  assert.throws(() => parseRunArgs(["--standalone", "--nnodes=2", "x.ts"]), /--standalone runs one node/);
  assert.throws(() => parseRunArgs(["--rdzv_endpoint=h:1", "--master_addr=h", "x.ts"]), /not both/);
});

test("tessera run --standalone --nproc_per_node=2 runs a 2-rank job with the run id", { timeout: 60_000 }, () => {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ["RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "TESSERA_PLAN", "TESSERA_NPROC"])
    delete env[k];
  const script = path.join(here, "workers", "run_id.ts");
  const r = spawnSync(
    process.execPath,
    [path.join(root, "bin", "tessera.mjs"), "run", "--standalone", "--nproc_per_node=2", "--rdzv_backend=c10d", "--rdzv_id=seed", script],
    { env, encoding: "utf8" },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\[rank1\]: /);
  assert.match(r.stdout, /^\[rank0\]: TORCHELASTIC_RUN_ID=seed sum=2$/m);
  assert.match(r.stdout, /^\[rank1\]: TORCHELASTIC_RUN_ID=seed sum=2$/m);
});
