// A plain training script with the one line: started as one process, it trains data-parallel.
import { torch } from "../../../src/index.js";

console.log("before the one line");
torch.moreh.option.enable_advanced_parallelization();
const dist = torch.distributed;
torch.manual_seed(0);
const net = new torch.nn.parallel.DistributedDataParallel(new torch.nn.Linear(4, 1));
const opt = new torch.optim.SGD(net.parameters(), { lr: 0.1 });
torch.manual_seed(1);
const x = torch.randn(8, 4);
const y = x.sum(1, { keepdim: true });
const rank = dist.get_rank();
const per = 8 / dist.get_world_size();
for (let step = 0; step < 3; step++) {
  const loss = torch.nn.functional.mse_loss(net.forward(x.narrow(0, rank * per, per)) as torch.Tensor, y.narrow(0, rank * per, per));
  loss.backward();
  opt.step();
  opt.zero_grad();
  dist.all_reduce(loss.detach(), dist.ReduceOp.AVG);
  console.log(`step ${step} rank ${rank} of ${dist.get_world_size()}`);
}
