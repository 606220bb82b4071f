// One rank of `tessera plan --calibrate` (src/parallel/calibrate.ts): times the shapes it is given
// while every other rank runs the same ones, then all-reduces over groups of 2, 4, … ranks; rank 0
// writes the slowest rank's seconds to TESSERA_CALIBRATE_OUT.
import { writeFileSync, renameSync } from "node:fs";
import * as torch from "../torch/index.js";
import type { CalibrationShapes } from "../parallel/planner/measure.js";
import type { CalibrationTimings } from "./calibrate.js";
import { localDevice } from "./calibrate.js";

const dist = torch.distributed;
const shapes = JSON.parse(process.env.TESSERA_CALIBRATE_SHAPES ?? "") as CalibrationShapes;
torch.set_num_threads(Number(process.env.TESSERA_CALIBRATE_THREADS ?? 1));
const cuda = torch.cuda.is_available();
dist.init_process_group({ backend: cuda ? "nccl" : "gloo", init_method: `tcp://${process.env.MASTER_ADDR}:${process.env.MASTER_PORT}`, rank: Number(process.env.RANK), world_size: Number(process.env.WORLD_SIZE) });
const rank = dist.get_rank();
const world = dist.get_world_size();
const device = cuda ? `cuda:${rank % torch.cuda.device_count()}` : "cpu";
if (cuda) torch.cuda.set_device(rank % torch.cuda.device_count());
const dtype = cuda ? torch.bfloat16 : torch.float32;

/** Median seconds of `fn` over a few repeats after a warm-up, all ranks starting together. */
function time(fn: () => void, repeats = 3): number {
  fn();
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) {
    dist.barrier();
    if (cuda) torch.cuda.synchronize();
    const t0 = performance.now();
    fn();
    if (cuda) torch.cuda.synchronize();
    samples.push((performance.now() - t0) / 1000);
  }
  return samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;
}

/** The slowest rank's value: what a step waits for. */
function slowest(seconds: number): number {
  const t = torch.tensor([seconds], { dtype: torch.float64 });
  dist.all_reduce(t, dist.ReduceOp.MAX);
  return (t.tolist() as number[])[0]!;
}

const gemm = shapes.gemm.map(({ m, n, k }) => {
  const a = torch.randn([m, k], { dtype, device });
  const b = torch.randn([k, n], { dtype, device });
  return slowest(time(() => void torch.matmul(a, b)));
});
const { batch, heads, seq, headDim } = shapes.attention;
const q = torch.randn([batch, heads, seq, headDim], { dtype, device, requires_grad: true });
const k = torch.randn([batch, heads, seq, headDim], { dtype, device, requires_grad: true });
const v = torch.randn([batch, heads, seq, headDim], { dtype, device, requires_grad: true });
const attention = slowest(time(() => torch.nn.functional.scaled_dot_product_attention(q, k, v, { is_causal: true }).sum().backward()));
const src = torch.empty([shapes.copyBytes / 4], { dtype: torch.float32, device });
const dst = torch.empty([shapes.copyBytes / 4], { dtype: torch.float32, device });
const copy = slowest(time(() => void dst.copy_(src)));
const allReduce: Array<[number, number, number]> = [];
for (let size = 2; size <= world; size *= 2) {
  // Every rank makes every group, in the same order (new_group's rule); the first `size` ranks time it.
  const group = dist.new_group(Array.from({ length: size }, (_, r) => r));
  for (const bytes of shapes.allReduceBytes) {
    const buf = torch.ones([bytes / 4], { dtype: torch.float32, device });
    const seconds = rank < size ? time(() => dist.all_reduce(buf, { group }), 3) : (time(() => undefined, 3), 0);
    allReduce.push([size, bytes, slowest(seconds)]);
  }
}
if (rank === 0) {
  const { device: name, software } = localDevice();
  const timings: CalibrationTimings = { device: name, software, gemm, attention, copy, allReduce };
  const out = process.env.TESSERA_CALIBRATE_OUT!;
  writeFileSync(`${out}.tmp`, JSON.stringify(timings));
  renameSync(`${out}.tmp`, out);
}
dist.destroy_process_group();
