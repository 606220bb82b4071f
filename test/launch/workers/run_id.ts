// Prints the torchrun run id and the sum of an all-reduce over the job (tessera run's rendezvous).
import { torch } from "../../../src/index.js";

const dist = torch.distributed;
dist.init_process_group({ backend: "gloo", timeout: 20_000 });
const t = torch.ones(1);
dist.all_reduce(t);
console.log(`TORCHELASTIC_RUN_ID=${process.env.TORCHELASTIC_RUN_ID} sum=${t.item()}`);
dist.destroy_process_group();
