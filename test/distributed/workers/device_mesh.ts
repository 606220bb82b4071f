// init_device_mesh on 4 ranks as a 2 × 2 ("dp", "tp") mesh: sizes, groups, local ranks, submeshes,
// a flattened mesh, and the errors PyTorch gives.
import { torch } from "../../../src/index.js";
import { dist, join, report } from "./_init.js";

const { rank } = join();
const mesh = dist.device_mesh.init_device_mesh("cpu", [2, 2], { mesh_dim_names: ["dp", "tp"] });
const sum = (group: ReturnType<typeof mesh.get_group>): number => {
  const t = torch.tensor([rank + 1]);
  dist.all_reduce(t, { group });
  return t.item() as number;
};
const errorOf = (fn: () => unknown): string => {
  try {
    fn();
    return "";
  } catch (e) {
    return (e as Error).message;
  }
};
const tp = mesh.get("tp");
const flat = mesh._flatten("dp_tp");
report({
  rank,
  shape: mesh.shape,
  ndim: mesh.ndim,
  size: mesh.size(),
  size_tp: mesh.size("tp"),
  size_0: mesh.size(0),
  mesh: mesh.mesh.tolist(),
  coordinate: mesh.get_coordinate(),
  local_tp: mesh.get_local_rank("tp"),
  local_dp: mesh.get_local_rank(0),
  tp_ranks: mesh.get_group("tp").ranks,
  dp_ranks: mesh.get_group("dp").ranks,
  tp_sum: sum(mesh.get_group("tp")),
  dp_sum: sum(mesh.get_group(0)),
  sub_mesh: tp.mesh.tolist(),
  sub_names: tp.mesh_dim_names,
  sub_local: tp.get_local_rank(),
  sub_same_group: tp.get_group() === mesh.get_group("tp"),
  flat_size: flat.size(),
  flat_local: flat.get_local_rank(),
  flat_is_world: flat.get_group() === dist.GroupMember.WORLD,
  both: mesh.get(["dp", "tp"]).shape,
  repr: String(tp),
  err_no_dim: errorOf(() => mesh.get_group()),
  err_name: errorOf(() => mesh.get("pp")),
  err_order: errorOf(() => mesh.get(["tp", "dp"])),
  err_shape: errorOf(() => dist.device_mesh.init_device_mesh("cpu", [3, 2])),
});
