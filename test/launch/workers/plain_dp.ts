// A plain training script with the one line and no DDP / DistributedSampler: a Linear model on a
// TensorDataset, shuffled by a seeded generator, SGD for 5 steps. Usage: plain_dp.ts <batch_size>.
// Prints one JSON line per rank: the indices it read per step and the final parameters.
import { torch } from "../../../src/index.js";

torch.moreh.option.enable_advanced_parallelization();
const batch_size = Number(process.argv[2]);
torch.manual_seed(1);
const x = torch.randn(16, 4);
const y = x.matmul(torch.tensor([[1], [-2], [0.5], [3]])).add(0.1);
const dataset = new torch.utils.data.TensorDataset(x, y, torch.arange(16));
const loader = new torch.utils.data.DataLoader(dataset, { batch_size, shuffle: true, generator: new torch.Generator().manual_seed(7) });
torch.manual_seed(0);
const model = new torch.nn.Linear(4, 1);
const optim = new torch.optim.SGD(model.parameters(), { lr: 0.1 });
const seen: number[][] = [];
while (seen.length < 5) {
  for (const [xb, yb, ib] of loader as Iterable<torch.Tensor[]>) {
    if (seen.length === 5) break;
    const loss = torch.nn.functional.mse_loss(model.forward(xb) as torch.Tensor, yb);
    loss.backward();
    optim.step();
    model.zero_grad({ set_to_none: true });
    seen.push(ib.tolist() as number[]);
  }
}
const rank = torch.distributed.get_rank();
// Generators that differ per rank still give disjoint shares (rank 0's order is used).
const drifted = new torch.utils.data.DataLoader(torch.arange(16).tolist() as number[], {
  batch_size: 16,
  shuffle: true,
  generator: new torch.Generator().manual_seed(100 + rank),
});
const drifted_share = ([...drifted][0] as torch.Tensor).tolist() as number[];
console.log(
  JSON.stringify({
    rank,
    world_size: torch.distributed.get_world_size(),
    batches: loader.len(),
    seen,
    drifted_share,
    params: [...model.parameters()].map((p) => p.detach().reshape(-1).tolist()),
  }),
);
