// torch.distributed.device_mesh.init_device_mesh on 4 Gloo ranks: PyTorch's layout (row-major, the
// innermost dimension holds neighbouring ranks), per-dimension groups, submeshes and errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runRanks } from "./_spawn.js";

interface Out {
  rank: number;
  [k: string]: unknown;
}

test("a 2 x 2 (dp, tp) mesh: groups, local ranks, submeshes", async () => {
  const ranks = await runRanks("device_mesh.ts", 4);
  for (const [r, o] of ranks.entries()) assert.equal(o.code, 0, `rank ${r} failed:\n${o.stderr}`);
  for (const o of ranks) {
    const out = o.result as Out;
    const r = out.rank;
    const [dp, tp] = [Math.floor(r / 2), r % 2];
    assert.deepEqual(out.shape, [2, 2]);
    assert.equal(out.ndim, 2);
    assert.equal(out.size, 4);
    assert.equal(out.size_tp, 2);
    assert.equal(out.size_0, 2);
    assert.deepEqual(out.mesh, [
      [0, 1],
      [2, 3],
    ]);
    assert.deepEqual(out.coordinate, [dp, tp]);
    assert.equal(out.local_tp, tp);
    assert.equal(out.local_dp, dp);
    // TP ranks are neighbours; DP groups run at stride tp.
    assert.deepEqual(out.tp_ranks, [2 * dp, 2 * dp + 1]);
    assert.deepEqual(out.dp_ranks, [tp, tp + 2]);
    assert.equal(out.tp_sum, 4 * dp + 3);
    assert.equal(out.dp_sum, 2 * tp + 4);
    assert.deepEqual(out.sub_mesh, [2 * dp, 2 * dp + 1]);
    assert.deepEqual(out.sub_names, ["tp"]);
    assert.equal(out.sub_local, tp);
    assert.equal(out.sub_same_group, true);
    assert.equal(out.flat_size, 4);
    assert.equal(out.flat_local, r);
    assert.equal(out.flat_is_world, true);
    assert.deepEqual(out.both, [2, 2]);
    assert.equal(out.repr, `DeviceMesh('cpu', [${2 * dp},${2 * dp + 1}], mesh_dim_names=('tp'))`);
    assert.match(out.err_no_dim as string, /Found the DeviceMesh have 2 dimensions/);
    assert.match(out.err_name as string, /Mesh dimension 'pp' does not exist/);
    assert.match(out.err_order as string, /Invalid mesh_dim_names/);
    assert.match(out.err_shape as string, /holds 6 ranks, but the job has 4/);
  }
});
