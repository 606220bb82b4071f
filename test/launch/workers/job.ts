// A job for the launcher tests. argv[2]: "allreduce" | "fail" | "hang" | "signal" (argv[3]: the signal rank 1 dies of) | "fail-single"
// | "spin" (rank 1 spins in JS after a first all_reduce) | "slow" (rank 1 computes 2 s, then waits 2 s off the event loop, per step)
// | "hold" (joins, says ready, waits for the file argv[3] to exist, then all_reduce).
import { existsSync } from "node:fs";
import { torch } from "../../../src/index.js";

const mode = process.argv[2];
const dist = torch.distributed;
const env = ["RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT"].map(
  (k) => `${k}=${process.env[k]}`,
);
console.log(`env ${env.join(" ")}`);
console.log(`node flags ${process.execArgv.filter((a) => a.startsWith("--max-semi-space-size")).join(" ")}`);
if (mode === "allreduce") {
  dist.init_process_group({ backend: "gloo", timeout: 20_000 });
  const t = torch.full([2], dist.get_rank() + 1);
  dist.all_reduce(t);
  console.log(`sum ${(t.tolist() as number[]).join(",")} of ${dist.get_world_size()}`);
  dist.destroy_process_group();
} else if (mode === "fail") {
  if (process.env.RANK === "1") {
    setTimeout(() => {
      console.log(`failing at ${Date.now()}`);
      throw new Error("boom on purpose");
    }, 200);
  } else {
    setTimeout(() => console.log("rank 0 was not stopped"), 60_000);
  }
} else if (mode === "signal") {
  if (process.env.RANK === "1" || process.env.RANK === undefined) {
    console.error(`rank ${process.env.RANK ?? "-"} about to die of ${process.argv[3]}`);
    setTimeout(() => process.kill(process.pid, process.argv[3] as NodeJS.Signals), 100);
  } else {
    setTimeout(() => console.log("rank 0 was not stopped"), 60_000);
  }
} else if (mode === "fail-single") {
  console.error("failing on purpose");
  process.exitCode = 3;
} else if (mode === "spin" || mode === "slow") {
  dist.init_process_group({ backend: "gloo" });
  const busy = (ms: number): void => {
    for (const end = Date.now() + ms; Date.now() < end; );
  };
  for (let step = 0; step < 3; step++) {
    const t = torch.ones(1);
    dist.all_reduce(t);
    console.log(`step ${step} sum ${t.item()}`);
    if (dist.get_rank() !== 1) continue;
    if (mode === "spin") {
      console.log(`spinning pid=${process.pid}`);
      for (;;);
    }
    busy(2000);
    await new Promise((done) => setTimeout(done, 2000));
  }
  dist.destroy_process_group();
} else if (mode === "hold") {
  dist.init_process_group({ backend: "gloo", timeout: 20_000 });
  console.log("ready");
  await new Promise<void>((done) => {
    const poll = setInterval(() => {
      if (!existsSync(process.argv[3])) return;
      clearInterval(poll);
      done();
    }, 50);
  });
  const t = torch.full([2], dist.get_rank() + 1);
  dist.all_reduce(t);
  console.log(`sum ${(t.tolist() as number[]).join(",")} of ${dist.get_world_size()}`);
  dist.destroy_process_group();
} else if (mode === "hang") {
  console.log(`ready pid=${process.pid}`);
  setTimeout(() => console.log("not interrupted"), 60_000);
}
