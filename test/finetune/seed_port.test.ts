// The seed's script ported by spelling (examples/finetune/seed_port.ts) runs under tessera run from
// a folder of its own, on a tiny Baichuan2 placed in a Hugging Face cache and named by its hub id
// (offline), with a local instruction/response dataset through load_dataset and map: it logs its
// steps and evaluation and saves a folder that loads back with the trained weights.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { torch } from "../../src/index.js";
import { AutoModelForCausalLM, BaichuanForCausalLM } from "../../src/transformers/index.js";
import { placeTinyBaichuan } from "../../examples/finetune/lib/tiny_baichuan.js";
import { repoRoot } from "../helpers/oracle.js";

const root = mkdtempSync(path.join(os.tmpdir(), "tessera-seed-port-"));
after(() => rmSync(root, { recursive: true, force: true }));

test("seed_port.ts trains the cached Baichuan2 hub id on a local instruction dataset and saves it", () => {
  const snapshot = placeTinyBaichuan(path.join(root, "hf_home", "hub"));
  const rows = readFileSync(path.join(repoRoot, "examples/finetune/data/instructions.jsonl"), "utf8").split("\n").slice(0, 96);
  const data = path.join(root, "rows.jsonl");
  writeFileSync(data, rows.join("\n") + "\n");
  const save = path.join(root, "saved");
  const env: NodeJS.ProcessEnv = { ...process.env, HF_HOME: path.join(root, "hf_home"), HF_HUB_OFFLINE: "1" };
  delete env.HF_HUB_CACHE;
  const r = spawnSync(
    process.execPath,
    [
      path.join(repoRoot, "bin/tessera.mjs"),
      "run",
      path.join(repoRoot, "examples/finetune/seed_port.ts"),
      "--dataset-path",
      data,
      "--batch-size",
      "8",
      "--block-size",
      "40",
      "--lr",
      "0.003",
      "--log-interval",
      "3",
      "--save-path",
      save,
    ],
    { cwd: root, env, encoding: "utf8", timeout: 300_000 },
  );
  const out = r.stdout + r.stderr;
  assert.equal(r.status, 0, out);
  // 96 rows, test_size 0.1: 86 train rows, 10 batches of 8 (drop_last); 10 test rows, 1 batch.
  const losses = [...out.matchAll(/\[Step (\d+)\/10\] \| Loss: ([\d.]+) \| Duration: [\d.]+ \| Throughput: [\d.]+ tokens\/sec/g)].map(
    (m) => [Number(m[1]), Number(m[2])],
  );
  assert.deepEqual(
    losses.map(([s]) => s),
    [3, 6, 9],
    out,
  );
  assert.ok(
    losses.every(([, l]) => Number.isFinite(l) && l < Math.log(128) + 1),
    out,
  );
  const evalLoss = Number(/EVAL STEP: 1 \/ 1 \| EVAL LOSS: ([\d.]+)/.exec(out)?.[1]);
  assert.ok(
    Number.isFinite(evalLoss) && evalLoss < losses[0][1],
    `evaluation loss ${evalLoss} below the first logged training loss: ${out}`,
  );
  assert.match(out, new RegExp(`Model saved in ${save.replace(/[/.]/g, "\\$&")}`));
  const before = BaichuanForCausalLM.from_pretrained(snapshot);
  const after_ = AutoModelForCausalLM.from_pretrained(save);
  assert.equal(after_.constructor.name, "BaichuanForCausalLM");
  const w0 = before.state_dict()["model.layers.0.self_attn.W_pack.weight"];
  const w1 = after_.state_dict()["model.layers.0.self_attn.W_pack.weight"];
  assert.ok(torch.no_grad(() => w1.sub(w0).abs().max().item()) > 0, "training changed the weights");
  assert.ok(readFileSync(path.join(save, "tokenizer_config.json"), "utf8").length > 0);
});
