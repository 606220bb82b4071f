import { readFileSync } from "node:fs";
import { validateRow, type MegatronTable } from "/work/main/src/parallel/planner/megatron.js";
const table = JSON.parse(readFileSync("/work/shared/reference/megatron_sc21_table1.json", "utf8")) as MegatronTable;
for (const row of table.rows) {
  const t0 = performance.now();
  const v = validateRow(table, row);
  const s = v.published.prediction.step;
  const f = (x: number) => (x / s.total * 100).toFixed(1);
  console.log(row.params_b, row.tflops_per_gpu, v.published.prediction.tflopsPerGpu.toFixed(1), (v.error*100).toFixed(1)+"%", "mem", (v.published.memory.total/2**30).toFixed(1), v.published.fits,
   "c", f(s.compute), "rc", f(s.recompute), "tp", f(s.tpComm), "pp", f(s.ppComm), "bub", f(s.bubble), "dp", f(s.dpComm), "opt", f(s.optimizer),
   "| free", v.free.prediction.tflopsPerGpu.toFixed(1), JSON.stringify(v.free.plan), (performance.now()-t0).toFixed(0)+"ms");
}
