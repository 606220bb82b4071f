// load_dataset: a packaged builder ("json", "csv", "text", "parquet") over data_files, or a folder
// (or file) whose extensions pick the builder and whose file names the splits, as datasets does.
// data_files: a path, a list, or { split: path | list }; a path may be a folder (its files of the
// builder's extensions) or end in a "*" pattern. Asynchronous (`await load_dataset(...)`), since
// parquet is read that way.
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { Dataset, DatasetDict, type DatasetDictOf, type Row } from "./arrow_dataset.js";
import { BUILDERS, EXTENSIONS, readRows, type BuilderName, type BuilderOptions } from "./builders.js";

export type DataFiles = string | string[] | Record<string, string | string[]>;

export interface LoadDatasetOptions extends BuilderOptions {
  data_files?: DataFiles | null;
  /** Resolves relative data_files (and the folder's files) from here. */
  data_dir?: string | null;
  /** One split ("train") instead of the DatasetDict of all. */
  split?: string | null;
}

// datasets' split keywords in a file or folder name (data_files/patterns.py).
const SPLIT_WORDS: [string, RegExp][] = [
  ["train", /(^|[-_./ ])(train|training)([-_./ ]|$)/],
  ["validation", /(^|[-_./ ])(validation|valid|dev|val)([-_./ ]|$)/],
  ["test", /(^|[-_./ ])(test|testing|eval|evaluation)([-_./ ]|$)/],
];

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => !e.name.startsWith(".") && !e.name.startsWith("_"))
    .flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]))
    .sort();
}

function globLast(pattern: string): string[] {
  const dir = path.dirname(pattern);
  const re = new RegExp(
    `^${path
      .basename(pattern)
      .split("*")
      .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join("[^/]*")}$`,
  );
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => re.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

function expand(entry: string, base: string, builder: BuilderName | null): string[] {
  const p = path.resolve(base, entry);
  if (p.includes("*")) return globLast(p);
  if (!existsSync(p)) throw new Error(`load_dataset: data file ${entry} does not exist (looked at ${p})`);
  if (!statSync(p).isDirectory()) return [p];
  const exts = builder === null ? Object.values(EXTENSIONS).flat() : EXTENSIONS[builder];
  return filesUnder(p).filter((f) => exts.includes(path.extname(f)));
}

function builderOf(files: string[], where: string): BuilderName {
  const found = new Set(files.map((f) => BUILDERS.find((b) => EXTENSIONS[b].includes(path.extname(f)))));
  if (found.has(undefined))
    throw new Error(
      `load_dataset: ${where} holds files of no known format (${files.filter((f) => !BUILDERS.some((b) => EXTENSIONS[b].includes(path.extname(f)))).join(", ")})`,
    );
  if (found.size !== 1) throw new Error(`load_dataset: ${where} mixes formats (${[...found].join(", ")}); give data_files per format`);
  return [...found][0] as BuilderName;
}

function splitOf(file: string, root: string): string {
  const rel = path.relative(root, file).toLowerCase();
  return SPLIT_WORDS.find(([, re]) => re.test(rel))?.[0] ?? "train";
}

/** `{ split: files }` from data_files (a bare path or list is the train split). */
function splitsOf(data_files: DataFiles, base: string, builder: BuilderName | null): Record<string, string[]> {
  const bySplit: Record<string, string | string[]> =
    typeof data_files === "string" || Array.isArray(data_files) ? { train: data_files } : data_files;
  const out: Record<string, string[]> = {};
  for (const [split, entries] of Object.entries(bySplit)) {
    out[split] = (typeof entries === "string" ? [entries] : entries).flatMap((e) => expand(e, base, builder));
    if (out[split].length === 0)
      throw new Error(`load_dataset: the data_files of split '${split}' (${JSON.stringify(entries)}) match no file`);
  }
  return out;
}

/**
 * `load_dataset("json", { data_files: "data.jsonl", split: "train" })`, `load_dataset("csv", { data_files: { train: [...], test: "t.csv" } })`,
 * `load_dataset("path/to/folder")`. With `split`, the Dataset of that split; otherwise the DatasetDict.
 */
export async function load_dataset(path_: string, options: LoadDatasetOptions & { split: string }): Promise<Dataset>;
export async function load_dataset(path_: string, options?: LoadDatasetOptions): Promise<DatasetDictOf>;
export async function load_dataset(path_: string, options: LoadDatasetOptions = {}): Promise<Dataset | DatasetDictOf> {
  const { data_files = null, data_dir = null, split = null, ...builderOptions } = options;
  const packaged = (BUILDERS as readonly string[]).includes(path_) ? (path_ as BuilderName) : null;
  let splits: Record<string, string[]>;
  let builder: BuilderName;
  if (packaged !== null) {
    const base = data_dir ?? process.cwd();
    if (data_files === null) {
      if (data_dir === null)
        throw new Error(`load_dataset("${packaged}"): give data_files (a path, a list, or { split: paths }) or data_dir`);
      splits = groupBySplit(expand(data_dir, process.cwd(), packaged), path.resolve(data_dir));
    } else {
      splits = splitsOf(data_files, base, packaged);
    }
    builder = packaged;
  } else {
    if (!existsSync(path_))
      throw new Error(`load_dataset: ${path_} is neither a packaged builder (${BUILDERS.join(", ")}) nor a file or folder`);
    const root = path.resolve(path_);
    splits =
      data_files !== null
        ? splitsOf(data_files, statSync(root).isDirectory() ? root : path.dirname(root), null)
        : groupBySplit(expand(root, process.cwd(), null), statSync(root).isDirectory() ? root : path.dirname(root));
    builder = builderOf(Object.values(splits).flat(), path_);
  }
  if (split !== null && splits[split] === undefined)
    throw new Error(`load_dataset: unknown split '${split}' (splits: ${Object.keys(splits).join(", ")})`);
  const wantedSplits = split === null ? Object.keys(splits) : [split];
  const datasets: Record<string, Dataset> = {};
  for (const s of wantedSplits) {
    const rows: Row[] = [];
    for (const f of splits[s]) rows.push(...(await readRows(builder, f, builderOptions)));
    datasets[s] = new Dataset(fillColumns(rows), { split: s });
  }
  return split === null ? DatasetDict.of(datasets) : datasets[split];
}

function groupBySplit(files: string[], root: string): Record<string, string[]> {
  if (files.length === 0) throw new Error(`load_dataset: ${root} holds no data files (${Object.values(EXTENSIONS).flat().join(", ")})`);
  const out: Record<string, string[]> = {};
  for (const f of files) (out[splitOf(f, root)] ??= []).push(f);
  return out;
}

/** Every row with every column (missing values null), as a table has. */
function fillColumns(rows: Row[]): Row[] {
  const names = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return rows.map((r) => (names.every((k) => k in r) ? r : Object.fromEntries(names.map((k) => [k, k in r ? r[k] : null]))));
}
