// One rank of `tessera plan --calibrate` (src/launch/calibrate.ts): joins the calibration job's
// process group, times the shapes it is given with the other ranks (calibrate_ranks.ts), and rank 0
// writes the slowest rank's seconds to TESSERA_CALIBRATE_OUT (a temp name, then renamed).
import { renameSync, writeFileSync } from "node:fs";
import * as torch from "../torch/index.js";
import type { CalibrationShapes } from "../parallel/planner/measure.js";
import { measureOnRanks } from "./calibrate_ranks.js";

const dist = torch.distributed;
const shapes = JSON.parse(process.env.TESSERA_CALIBRATE_SHAPES ?? "") as CalibrationShapes;
torch.set_num_threads(Number(process.env.TESSERA_CALIBRATE_THREADS ?? 1));
const cuda = torch.cuda.is_available();
if (cuda) torch.cuda.set_device(Number(process.env.RANK) % torch.cuda.device_count());
dist.init_process_group({
  backend: cuda ? "nccl" : "gloo",
  init_method: `tcp://${process.env.MASTER_ADDR}:${process.env.MASTER_PORT}`,
  rank: Number(process.env.RANK),
  world_size: Number(process.env.WORLD_SIZE),
});
const timings = measureOnRanks(shapes);
if (dist.get_rank() === 0) {
  const out = process.env.TESSERA_CALIBRATE_OUT!;
  writeFileSync(`${out}.tmp`, JSON.stringify(timings));
  renameSync(`${out}.tmp`, out);
}
dist.destroy_process_group();
