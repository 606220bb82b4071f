// Shared by the test workers: joins the world the test started (FileStore rendezvous).
import { torch } from "../../../src/index.js";

export const dist = torch.distributed;

export function join(timeout = 20_000): { rank: number; world: number } {
  dist.init_process_group({
    backend: "gloo",
    init_method: process.env.TESSERA_TEST_INIT,
    rank: Number(process.env.RANK),
    world_size: Number(process.env.WORLD_SIZE),
    timeout,
  });
  return { rank: dist.get_rank(), world: dist.get_world_size() };
}

export function report(result: unknown): void {
  console.log(`RESULT ${JSON.stringify(result)}`);
}
