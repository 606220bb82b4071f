// All-reduce and all-gather bus bandwidth over Gloo on CPU processes, with nccl-tests' definitions:
// algbw = bytes / time; all-reduce busbw = algbw · 2(n−1)/n; all-gather busbw = algbw · (n−1)/n
// (bytes = the full output for all-gather). Run: `node --import tsx bench/collectives.ts [nprocs]`;
// it starts the ranks itself and prints a markdown table.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const SIZES = Array.from({ length: 19 }, (_, i) => 1024 * 2 ** i); // 1 KiB .. 256 MiB

async function worker(): Promise<void> {
  const { torch } = await import("../src/index.js");
  const dist = torch.distributed;
  dist.init_process_group({
    backend: "gloo",
    init_method: process.env.BENCH_INIT,
    rank: Number(process.env.RANK),
    world_size: Number(process.env.WORLD_SIZE),
  });
  const n = dist.get_world_size();
  const rows: string[] = [];
  for (const bytes of SIZES) {
    const numel = bytes / 4;
    const iters = bytes <= 1 << 20 ? 20 : bytes <= 1 << 24 ? 5 : 2;
    const buf = torch.ones(numel);
    const out = torch.empty(numel);
    const part = torch.ones(numel / n);
    const time = (fn: () => void): number => {
      fn();
      dist.barrier();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < iters; i++) fn();
      return Number(process.hrtime.bigint() - t0) / 1e9 / iters;
    };
    const ar = time(() => dist.all_reduce(buf));
    const ag = time(() => dist.all_gather_into_tensor(out, part));
    const gb = (b: number, s: number): number => b / s / 1e9;
    rows.push(
      `| ${bytes >= 1 << 20 ? `${bytes >> 20} MiB` : `${bytes >> 10} KiB`} | ${(ar * 1e6).toFixed(0)} | ${gb(bytes, ar).toFixed(3)} | ${((gb(bytes, ar) * 2 * (n - 1)) / n).toFixed(3)} | ${(ag * 1e6).toFixed(0)} | ${gb(bytes, ag).toFixed(3)} | ${((gb(bytes, ag) * (n - 1)) / n).toFixed(3)} |`,
    );
  }
  if (dist.get_rank() === 0) {
    console.log(`\n${n} processes, float32, Gloo over loopback\n`);
    console.log("| size | all-reduce µs | algbw GB/s | busbw GB/s | all-gather µs | algbw GB/s | busbw GB/s |");
    console.log("| --- | --- | --- | --- | --- | --- | --- |");
    for (const r of rows) console.log(r);
  }
  dist.destroy_process_group();
}

async function main(): Promise<void> {
  const world = Number(process.argv[2] ?? 2);
  const init = `file://${path.join(mkdtempSync(path.join(os.tmpdir(), "tessera-bench-")), "store")}`;
  const self = fileURLToPath(import.meta.url);
  const codes = await Promise.all(
    Array.from(
      { length: world },
      (_, rank) =>
        new Promise<number | null>((resolve) => {
          const child = spawn(process.execPath, ["--import", "tsx", self], {
            stdio: "inherit",
            env: { ...process.env, RANK: String(rank), WORLD_SIZE: String(world), BENCH_INIT: init, OMP_NUM_THREADS: "1" },
          });
          child.on("exit", resolve);
        }),
    ),
  );
  process.exitCode = codes.every((c) => c === 0) ? 0 : 1;
}

await (process.env.BENCH_INIT === undefined ? main() : worker());
