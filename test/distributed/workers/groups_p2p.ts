// Subgroups and point-to-point ops on 4 ranks.
import { torch } from "../../../src/index.js";
import type { Group } from "../../../src/torch/distributed/index.js";
import { dist, join, report } from "./_init.js";

const { rank, world } = join();
const out: Record<string, unknown> = {};

const pairs: Group[] = [dist.new_group([0, 1]), dist.new_group([2, 3])];
const evens = dist.new_group([0, 2]);
const mine = pairs[rank < 2 ? 0 : 1];
const t = torch.full([3], rank + 1);
dist.all_reduce(t, { group: mine });
out.pair_sum = t.tolist();
out.pair_rank = dist.get_rank(mine);
out.pair_size = dist.get_world_size(mine);
const b = torch.full([2], rank * 10);
dist.broadcast(b, rank < 2 ? 1 : 3, { group: mine });
out.pair_broadcast = b.tolist();
const e = torch.full([1], rank);
dist.all_reduce(e, { group: evens, op: dist.ReduceOp.MAX });
out.evens_max = e.tolist();
out.evens_rank = dist.get_rank(evens);

// Ring with isend/irecv, then with batch_isend_irecv: nobody waits on a peer that waits on them.
const next = (rank + 1) % world;
const prev = (rank + world - 1) % world;
const got = torch.zeros(4);
const works = [dist.isend(torch.full([4], rank), next), dist.irecv(got, prev)];
for (const w of works) w.wait();
out.ring = got.tolist();
const got2 = torch.zeros(2, { dtype: torch.int64 });
const batch = dist.batch_isend_irecv([
  new dist.P2POp(dist.irecv, got2, prev),
  new dist.P2POp(dist.isend, torch.full([2], 7 * rank, { dtype: torch.int64 }), next),
]);
await Promise.all(batch);
out.batch_ring = got2.tolist();
// Blocking send/recv between pairs, in the order PyTorch users write it.
const peer = rank ^ 1;
const buf = torch.zeros(3, { dtype: torch.float64 });
if (rank % 2 === 0) {
  dist.send(torch.full([3], rank + 0.5, { dtype: torch.float64 }), peer, { tag: 3 });
  out.recv_from = dist.recv(buf, peer, { tag: 4 });
} else {
  out.recv_from = dist.recv(buf, peer, { tag: 3 });
  dist.send(torch.full([3], rank + 0.5, { dtype: torch.float64 }), peer, { tag: 4 });
}
out.pair_recv = buf.tolist();
let error = "";
try {
  dist.broadcast(torch.zeros(1), rank < 2 ? 2 : 0, { group: mine });
} catch (err) {
  error = (err as Error).message;
}
out.bad_src = error;
dist.barrier();
report(out);
dist.destroy_process_group();
