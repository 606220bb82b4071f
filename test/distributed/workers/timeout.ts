// Rank 1 never joins the second all_reduce: rank 0 must get a clear error, not hang.
import { torch } from "../../../src/index.js";
import { dist, join, report } from "./_init.js";

const { rank } = join(1500);
dist.all_reduce(torch.ones(1));
let error = "";
if (rank === 0) {
  try {
    dist.all_reduce(torch.ones(4));
  } catch (e) {
    error = (e as Error).message;
  }
} else {
  await new Promise((r) => setTimeout(r, 3000));
}
report({ error });
