import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { test } from "node:test";
import { validateRow, type MegatronTable } from "../../src/parallel/planner/megatron.js";
import { referenceDir } from "./reference.js";

const table = JSON.parse(readFileSync(resolve(referenceDir, "megatron_sc21_table1.json"), "utf8")) as MegatronTable;

test("Megatron-LM SC'21 Table 1: every row within ±15 % TFLOP/s, fits 80 GB, free search at least as fast", () => {
  assert.equal(table.rows.length, 10);
  for (const row of table.rows) {
    const v = validateRow(table, row);
    const what = `${row.params_b}B (tp=${row.tp} pp=${row.pp} dp=${row.dp})`;
    assert.ok(
      Math.abs(v.error) <= 0.15,
      `${what}: predicted ${v.published.prediction.tflopsPerGpu.toFixed(1)} vs published ${row.tflops_per_gpu} TFLOP/s`,
    );
    assert.ok(v.published.fits && v.published.memory.total <= 80 * 2 ** 30, `${what}: predicted ${v.published.memory.total} bytes`);
    assert.ok(v.free.prediction.tokensPerS >= v.published.prediction.tokensPerS, `${what}: free search slower than the published plan`);
  }
});
