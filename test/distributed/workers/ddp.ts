// DDP against one process over the same global batch: losses per step and final parameters.
// Modes: plain (small buckets), accum (no_sync over 2 micro-batches), unused (find_unused_parameters);
// each also with gradient_as_bucket_view ("<mode>/view").
import { torch } from "../../../src/index.js";
import type { Tensor } from "../../../src/torch/tensor.js";
import type { Linear, Module, parallel } from "../../../src/torch/nn/index.js";
import { dist, join, report } from "./_init.js";

const { nn, optim } = torch;
const { rank, world } = join();
const STEPS = 20;
const BATCH = 16;

class Net extends nn.Module {
  fc1 = new nn.Linear(8, 16);
  fc2 = new nn.Linear(16, 4);
  extra: Linear | null;
  constructor(withExtra: boolean) {
    super();
    this.extra = withExtra ? new nn.Linear(4, 4) : null;
  }
  override forward(x: Tensor): Tensor {
    return this.fc2.forward(this.fc1.forward(x).tanh());
  }
}

const flat = (m: Module): number[] => torch.cat([...m.parameters()].map((p) => p.detach().reshape(-1))).tolist() as number[];

function train(mode: string, distributed: boolean, asView = false): { losses: number[]; params: number[]; extraGrad: boolean } {
  torch.manual_seed(distributed ? 100 + rank : 100); // ranks start different: DDP must broadcast rank 0's
  const net = new Net(mode === "unused");
  const model = distributed
    ? new nn.parallel.DistributedDataParallel(net, {
        bucket_cap_mb: mode === "plain" ? 0.0002 : 25,
        find_unused_parameters: mode === "unused",
        gradient_as_bucket_view: asView,
      })
    : net;
  const opt = new optim.SGD(net.parameters(), { lr: 0.1, momentum: 0.9 });
  torch.manual_seed(7);
  const micro = mode === "accum" ? 2 : 1;
  const xs = torch.randn(STEPS, micro, BATCH, 8);
  const ys = torch.randn(STEPS, micro, BATCH, 4);
  const per = BATCH / world;
  const losses: number[] = [];
  for (let step = 0; step < STEPS; step++) {
    let stepLoss = 0;
    for (let k = 0; k < micro; k++) {
      let x = xs.select(0, step).select(0, k);
      let y = ys.select(0, step).select(0, k);
      if (distributed) {
        x = x.narrow(0, rank * per, per);
        y = y.narrow(0, rank * per, per);
      }
      const run = (): Tensor => {
        const loss = nn.functional.mse_loss(model.forward(x) as Tensor, y);
        loss.backward();
        return loss.detach();
      };
      const loss = distributed && k < micro - 1 ? (model as parallel.DistributedDataParallel).no_sync(run) : run();
      if (distributed) dist.all_reduce(loss, dist.ReduceOp.AVG);
      stepLoss += loss.item() as number;
    }
    opt.step();
    opt.zero_grad();
    losses.push(stepLoss);
  }
  return { losses, params: flat(net), extraGrad: net.extra !== null && net.extra.weight.grad !== null };
}

const out: Record<string, unknown> = {};
for (const mode of ["plain", "accum", "unused"]) {
  out[mode] = train(mode, true);
  out[`${mode}/view`] = train(mode, true, true);
  if (rank === 0) out[`${mode}/reference`] = train(mode, false);
}
report(out);
dist.destroy_process_group();
