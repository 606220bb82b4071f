// tessera/datasets: load_dataset's builders (JSON Lines and arrays, CSV, text, parquet) and folders,
// Dataset.map (batched, with a tokenizer returning tensors), filter, select, shuffle and
// train_test_split (orders from torch.randperm, checked against Python), with_format("torch"), and
// the DataLoader reading a dataset directly. Values are hand-written here.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parquetWriteBuffer } from "hyparquet-writer";
import { torch } from "../../src/index.js";
import { AutoTokenizer } from "../../src/transformers/index.js";
import { Dataset, load_dataset } from "../../src/datasets/index.js";
import { assertClose, repoRoot, runPython } from "../helpers/oracle.js";

const root = mkdtempSync(path.join(os.tmpdir(), "tessera-datasets-"));
after(() => rmSync(root, { recursive: true, force: true }));
const file = (name: string, text: string | ArrayBuffer): string => {
  const p = path.join(root, name);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, typeof text === "string" ? text : new Uint8Array(text));
  return p;
};

const ROWS = [
  { instruction: "upper: kesw", response: "KESW" },
  { instruction: "reverse: wolf", response: "flow" },
  { instruction: "upper: ab", response: "AB" },
  { instruction: "reverse: abc", response: "cba" },
  { instruction: "upper: xyz", response: "XYZ" },
];

test("json (lines and arrays), csv, text and parquet files load as the same rows", async () => {
  const jsonl = file("rows.jsonl", ROWS.map((r) => JSON.stringify(r)).join("\n") + "\n");
  const ds = await load_dataset("json", { data_files: jsonl, split: "train" });
  assert.deepEqual(ds.to_list(), ROWS);
  assert.deepEqual(ds.column_names, ["instruction", "response"]);
  assert.equal(ds.num_rows, 5);
  assert.deepEqual(ds.getitem(-1), ROWS[4]);
  const arr = file("rows.json", JSON.stringify({ data: ROWS.slice(0, 2) }));
  assert.deepEqual((await load_dataset("json", { data_files: arr, field: "data", split: "train" })).to_list(), ROWS.slice(0, 2));

  const csv = file("t.csv", 'id,score,text,note\n1,0.5,"a, quoted\nline",x\n2,1,plain,\n-3,2e3,"say ""hi""",y\n');
  const c = await load_dataset("csv", { data_files: csv, split: "train" });
  assert.deepEqual(c.to_list(), [
    { id: 1, score: 0.5, text: "a, quoted\nline", note: "x" },
    { id: 2, score: 1, text: "plain", note: null },
    { id: -3, score: 2000, text: 'say "hi"', note: "y" },
  ]);

  const txt = file("t.txt", "first line\n\nthird\n");
  assert.deepEqual((await load_dataset("text", { data_files: txt, split: "train" })).to_list(), [
    { text: "first line" },
    { text: "" },
    { text: "third" },
  ]);

  const pq = file(
    "t.parquet",
    parquetWriteBuffer({
      columnData: [
        { name: "instruction", data: ROWS.map((r) => r.instruction) },
        { name: "response", data: ROWS.map((r) => r.response) },
        { name: "n", data: [1n, 2n, 3n, 4n, 5n], type: "INT64" },
      ],
    }),
  );
  const p = await load_dataset("parquet", { data_files: pq, split: "train" });
  assert.deepEqual(
    p.to_list(),
    ROWS.map((r, i) => ({ ...r, n: i + 1 })),
  );
});

test("a folder loads by extension with splits from file names; data_files by split; clear errors", async () => {
  file(
    "folder/train.jsonl",
    ROWS.slice(0, 3)
      .map((r) => JSON.stringify(r))
      .join("\n"),
  );
  file(
    "folder/test.jsonl",
    ROWS.slice(3)
      .map((r) => JSON.stringify(r))
      .join("\n"),
  );
  const dd = await load_dataset(path.join(root, "folder"));
  assert.deepEqual(dd.keys().sort(), ["test", "train"]);
  assert.deepEqual(dd["train"].to_list(), ROWS.slice(0, 3));
  assert.deepEqual(dd["test"].to_list(), ROWS.slice(3));
  const bySplit = await load_dataset("json", {
    data_files: { train: path.join(root, "folder/train.jsonl"), validation: path.join(root, "folder/*.jsonl") },
  });
  assert.equal(bySplit["validation"].num_rows, 5);
  await assert.rejects(
    load_dataset("json", { data_files: path.join(root, "folder"), split: "dev" }),
    /unknown split 'dev' \(splits: train\)/,
  );
  await assert.rejects(load_dataset("json", { data_files: path.join(root, "nope.jsonl") }), /data file .*nope\.jsonl does not exist/);
  const bad = file("bad.jsonl", '{"a": 1}\n{"a": \n');
  await assert.rejects(load_dataset("json", { data_files: bad }), /bad\.jsonl:2 is not a JSON line/);
  await assert.rejects(load_dataset("jsn"), /jsn is neither a packaged builder \(json, csv, text, parquet\) nor a file or folder/);
});

test("map (per row and batched with a tokenizer), filter, select, with_format('torch') and the DataLoader", () => {
  const tok = AutoTokenizer.from_pretrained(path.join(repoRoot, "examples/finetune/config"));
  const ds = Dataset.from_list(ROWS);
  const joined = ds.map((r) => ({ text: `${r.instruction} -> ${r.response}` }));
  assert.deepEqual(joined.column_names, ["instruction", "response", "text"]);
  assert.equal(joined.getitem(1).text, "reverse: wolf -> flow");
  const tokenized = joined.map(
    (batch) => tok(batch.text, { padding: "max_length", truncation: true, max_length: 12, return_tensors: "pt" }),
    { batched: true, batch_size: 2, remove_columns: ["instruction", "response", "text"] },
  );
  assert.deepEqual(tokenized.column_names, ["input_ids", "attention_mask"]);
  const direct = tok(joined.column("text") as string[], { padding: "max_length", truncation: true, max_length: 12, return_tensors: "pt" });
  assert.deepEqual(tokenized.column("input_ids"), direct.input_ids.tolist());

  const formatted = tokenized.with_format("torch");
  const row = formatted.getitem(0);
  assert.ok(row.input_ids instanceof torch.Tensor);
  assert.equal(row.input_ids.dtype, torch.int64);
  assert.deepEqual(row.input_ids.shape, [12]);
  const loader = new torch.utils.data.DataLoader(formatted, { batch_size: 2 });
  const batches = [...loader];
  assert.equal(batches.length, 3);
  assertClose(batches[0].input_ids, direct.input_ids.narrow(0, 0, 2));
  assertClose(batches[2].attention_mask!, direct.attention_mask!.narrow(0, 4, 1));

  assert.deepEqual(ds.filter((r) => r.instruction.startsWith("upper")).column("response"), ["KESW", "AB", "XYZ"]);
  assert.deepEqual(ds.filter((b) => b.response.map((s) => s.length > 2), { batched: true, batch_size: 2 }).column("response"), [
    "KESW",
    "flow",
    "cba",
    "XYZ",
  ]);
  assert.deepEqual(ds.select([4, 0]).column("response"), ["XYZ", "KESW"]);
  const floats = Dataset.from_dict({
    x: [
      [0.5, 1],
      [2, 3.25],
    ],
    label: [1, 0],
    name: ["a", "b"],
  }).with_format("torch");
  assert.equal(floats.getitem(0).x.dtype, torch.float32);
  assert.equal(floats.getitem(1).label.dtype, torch.int64);
  assert.equal(floats.getitem(1).name, "b");
  assert.throws(
    () => ds.map((r) => ({ x: r.instruction }), { remove_columns: "nope" }),
    /remove_columns names 'nope', which is not a column/,
  );
});

test("shuffle(seed) and train_test_split follow torch.randperm under that seed, as Python gives it", () => {
  const ds = Dataset.from_dict({ i: Array.from({ length: 10 }, (_, k) => k) });
  const py = runPython(`
out["p3"] = torch.randperm(10, generator=torch.Generator().manual_seed(3)).tolist()
out["p7"] = torch.randperm(10, generator=torch.Generator().manual_seed(7)).tolist()
`);
  assert.deepEqual(ds.shuffle({ seed: 3 }).column("i"), py.p3);
  const split = ds.train_test_split({ test_size: 0.2, seed: 7 });
  assert.deepEqual(split["test"].column("i"), (py.p7 as number[]).slice(0, 2));
  assert.deepEqual(split["train"].column("i"), (py.p7 as number[]).slice(2));
  const noShuffle = ds.train_test_split({ test_size: 3, shuffle: false });
  assert.deepEqual(noShuffle["test"].column("i"), [0, 1, 2]);
  assert.equal(noShuffle["train"].num_rows, 7);
  assert.throws(() => ds.train_test_split({ test_size: 10 }), /test_size=10 should be a fraction in \(0, 1\) or a count in \[1, 9\]/);
});
