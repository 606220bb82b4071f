// Runs every collective over several dtypes and sizes; reports each result as a plain list.
import { torch } from "../../../src/index.js";
import type { Tensor } from "../../../src/torch/tensor.js";
import { dist, join, report } from "./_init.js";

const { rank, world } = join();
const dtypes = { float32: torch.float32, float64: torch.float64, int64: torch.int64, bfloat16: torch.bfloat16 };
const out: Record<string, unknown> = {};
const value = (r: number, n: number, dt: torch.dtype): Tensor =>
  torch
    .arange(n, { dtype: torch.int64 })
    .remainder(5)
    .add(r + 1)
    .to(dt);

for (const [name, dt] of Object.entries(dtypes)) {
  for (const n of [1, 5, 1000]) {
    for (const op of ["SUM", "PRODUCT", "MIN", "MAX", "AVG"] as const) {
      const t = value(rank, n, dt);
      dist.all_reduce(t, op);
      out[`all_reduce/${name}/${n}/${op}`] = t.tolist();
    }
    const b = value(rank, n, dt);
    dist.broadcast(b, world - 1);
    out[`broadcast/${name}/${n}`] = b.tolist();
    const list = Array.from({ length: world }, () => torch.zeros(n, { dtype: dt }));
    dist.all_gather(list, value(rank, n, dt));
    out[`all_gather/${name}/${n}`] = list.map((x) => x.tolist());
    const flat = torch.zeros(world * n, { dtype: dt });
    dist.all_gather_into_tensor(flat, value(rank, n, dt));
    out[`all_gather_into_tensor/${name}/${n}`] = flat.tolist();
    for (const op of ["SUM", "AVG"] as const) {
      const rs = torch.zeros(n, { dtype: dt });
      dist.reduce_scatter_tensor(rs, value(rank, world * n, dt), op);
      out[`reduce_scatter_tensor/${name}/${n}/${op}`] = rs.tolist();
    }
  }
  // Uneven all_to_all: rank r sends r + d + 1 rows of 3 to rank d.
  const inSplits = Array.from({ length: world }, (_, d) => rank + d + 1);
  const outSplits = Array.from({ length: world }, (_, s) => s + rank + 1);
  const rows = inSplits.reduce((a, b) => a + b, 0);
  const input = torch
    .arange(rows, { dtype: torch.int64 })
    .add(100 * rank)
    .unsqueeze(1)
    .expand([rows, 3])
    .contiguous()
    .to(dt);
  const output = torch.zeros(
    outSplits.reduce((a, b) => a + b, 0),
    3,
    { dtype: dt },
  );
  dist.all_to_all_single(output, input, { input_split_sizes: inSplits, output_split_sizes: outSplits });
  out[`all_to_all_single/${name}`] = output.select(1, 0).tolist();
}

// Async forms: wait() and await, and the event loop keeps turning while a collective is pending.
const w = dist.all_reduce(torch.ones(3), { async_op: true });
w.wait();
const order: string[] = [];
if (rank === 0) await new Promise((r) => setTimeout(r, 300));
const pending = torch.full([2], rank + 1);
const work = dist.all_reduce(pending, { op: dist.ReduceOp.AVG, async_op: true });
setTimeout(() => order.push("timer"), 0);
await work;
order.push("collective");
out.async = { avg: pending.tolist(), completed: work.is_completed(), order: rank === 1 ? order : null };
dist.barrier();
report(out);
dist.destroy_process_group();
