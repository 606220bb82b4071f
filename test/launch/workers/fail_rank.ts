// Usage: fail_rank.ts R — rank R throws right after the one line; the others wait in a collective
// for it, which only the supervisor's fail-fast ends.
import { torch } from "../../../src/index.js";

torch.moreh.option.enable_advanced_parallelization();
const rank = torch.distributed.get_rank();
if (rank === Number(process.argv[2])) throw new Error(`rank ${rank} fails on purpose`);
torch.distributed.all_reduce(torch.ones(1));
console.log(`rank ${rank} was not stopped`);
