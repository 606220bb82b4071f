// Two column-parallel linears of one sequence-parallel region (tensor_parallel_linear.ts) on the
// rank's half of the sequence, with the same weights on both ranks, against the same linears run by
// autograd on the whole input in this process. Reports: the bytes the region keeps after forward
// (a collection before each reading), the outputs, the gradients after a backward that retains the
// graph and a second one that does not, the collectives of the first backward, and the error of a
// third backward.
import v8 from "node:v8";
import vm from "node:vm";
import { torch } from "../../../src/index.js";
import { GatheredInput } from "../../../src/parallel/executors/tensor_parallel_linear.js";
import * as cpuMemory from "../../../src/torch/cpu_memory.js";
import { scope } from "../../../src/torch/memory.js";
import type { Tensor } from "../../../src/torch/tensor.js";
import { dist, join, report } from "./_init.js";

const { rank, world } = join();
cpuMemory.track_cpu_memory();
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;
const live = (): number => {
  gc();
  return cpuMemory.cpu_memory_allocated();
};

const [b, s, h, o] = [2, 8, 16, 12];
const g = new torch.Generator().manual_seed(0);
const full = torch.randn([b, s, h], { generator: g });
const weights = [torch.randn([o, h], { generator: g }), torch.randn([o, h], { generator: g })];
const bias = torch.randn([o], { generator: g });
const upstream = [torch.randn([b, s, o], { generator: g }), torch.randn([b, s, o], { generator: g })];
const flat = (t: Tensor | null): number[] => (t === null ? [] : (t.reshape(-1).tolist() as number[]));

// Reference: the whole input through F.linear, one backward (the shard's linears run two).
const x = full.clone().requires_grad_(true);
const [w0, w1, bb] = [...weights, bias].map((t) => t.clone().requires_grad_(true));
const ref = [torch.nn.functional.linear(x, w0), torch.nn.functional.linear(x, w1, bb)];
torch.autograd.backward(ref, upstream);

const shard = full
  .narrow(1, (rank * s) / world, s / world)
  .clone()
  .requires_grad_(true);
const [q0, q1, qb] = [...weights, bias].map((t) => t.clone().requires_grad_(true));
const before = live();
const outs = scope(() => {
  const region = new GatheredInput(shard, dist.GroupMember.WORLD!);
  return [region.linear(q0, null, "linear"), region.linear(q1, qb, "linear")];
});
const kept = live() - before;

const calls: string[] = [];
const stop = dist._observe_collectives((op) => calls.push(op));
torch.autograd.backward(outs, upstream, { retain_graph: true });
stop();
torch.autograd.backward(outs, upstream);
let third = "";
try {
  torch.autograd.backward(outs, upstream);
} catch (e) {
  third = e instanceof Error ? e.message : String(e);
}

report({
  kept,
  outputBytes: outs.reduce((a, t) => a + t.numel() * t.element_size(), 0),
  inputBytes: full.numel() * full.element_size(),
  outs: outs.map(flat),
  refOuts: ref.map(flat),
  grads: { shard: flat(shard.grad), w0: flat(q0.grad), w1: flat(q1.grad), b: flat(qb.grad) },
  refGrads: { x: flat(x.grad!.narrow(1, (rank * s) / world, s / world)), w0: flat(w0.grad), w1: flat(w1.grad), b: flat(bb.grad) },
  calls,
  third,
});
dist.destroy_process_group();
