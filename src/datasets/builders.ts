// The packaged builders of load_dataset: how one file of each format becomes rows. JSON: JSON Lines,
// or one JSON array (or the array under `field`); CSV: csv-parse, each column typed as pandas infers
// it (all integers, all numbers, else strings; empty cells null); text: one row {text} per line;
// parquet: hyparquet (64-bit integers as numbers when exact).
import { readFileSync } from "node:fs";
import { parse as parseCsv } from "csv-parse/sync";
import { parquetReadObjects } from "hyparquet";
import type { Row } from "./arrow_dataset.js";

export type BuilderName = "json" | "csv" | "text" | "parquet";
export const BUILDERS: readonly BuilderName[] = ["json", "csv", "text", "parquet"];

/** Which builder reads a file with this extension (as datasets' folder loading picks it). */
export const EXTENSIONS: Readonly<Record<BuilderName, readonly string[]>> = {
  json: [".json", ".jsonl"],
  csv: [".csv", ".tsv"],
  text: [".txt"],
  parquet: [".parquet"],
};

export interface BuilderOptions {
  /** json: the key of the array of rows in a JSON object file. */
  field?: string | null;
  /** csv: the separator (default ","; "\t" for .tsv). */
  sep?: string;
  delimiter?: string;
}

function jsonRows(file: string, text: string, field: string | null | undefined): Row[] {
  const trimmed = text.trimStart();
  if (field || trimmed.startsWith("[")) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new Error(`load_dataset("json"): ${file} is not valid JSON: ${(e as Error).message}`);
    }
    const rows = field ? (doc as Record<string, unknown> | null)?.[field] : doc;
    if (!Array.isArray(rows))
      throw new Error(`load_dataset("json"): ${file}${field ? ` has no array under "${field}"` : " is not an array of rows"}`);
    return rows.map((r, i) => objectRow(r, file, i + 1));
  }
  const rows: Row[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "") return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new Error(`load_dataset("json"): ${file}:${i + 1} is not a JSON line: ${(e as Error).message}`);
    }
    rows.push(objectRow(v, file, i + 1));
  });
  return rows;
}

function objectRow(v: unknown, file: string, line: number): Row {
  if (v === null || typeof v !== "object" || Array.isArray(v))
    throw new Error(
      `load_dataset("json"): ${file}, row ${line}: expected a JSON object, got ${Array.isArray(v) ? "an array" : JSON.stringify(v)}`,
    );
  return v as Row;
}

const INT = /^[+-]?\d+$/;

function typedColumn(values: string[]): unknown[] {
  const present = values.filter((v) => v !== "");
  const asNumber = present.length > 0 && present.every((v) => INT.test(v) || (v.trim() !== "" && !Number.isNaN(Number(v))));
  return values.map((v) => (v === "" ? null : asNumber ? Number(v) : v));
}

function csvRows(file: string, text: string, options: BuilderOptions): Row[] {
  const delimiter = options.sep ?? options.delimiter ?? (file.endsWith(".tsv") ? "\t" : ",");
  let records: string[][];
  try {
    records = parseCsv(text, { delimiter, skip_empty_lines: true, relax_column_count: false, bom: true }) as string[][];
  } catch (e) {
    throw new Error(`load_dataset("csv"): ${file}: ${(e as Error).message}`);
  }
  if (records.length === 0) return [];
  const [header, ...body] = records;
  const columns = header.map((_, c) => typedColumn(body.map((r) => r[c])));
  return body.map((_, i) => Object.fromEntries(header.map((name, c) => [name, columns[c][i]])));
}

function textRows(text: string): Row[] {
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  return lines.map((line) => ({ text: line }));
}

function plainValue(v: unknown): unknown {
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v;
  if (Array.isArray(v)) return v.map(plainValue);
  return v;
}

async function parquetRows(file: string): Promise<Row[]> {
  const bytes = readFileSync(file);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  let rows: Record<string, unknown>[];
  try {
    rows = (await parquetReadObjects({ file: buffer })) as Record<string, unknown>[];
  } catch (e) {
    throw new Error(`load_dataset("parquet"): ${file}: ${(e as Error).message}`);
  }
  return rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, plainValue(v)])));
}

/** The rows of one data file. */
export async function readRows(builder: BuilderName, file: string, options: BuilderOptions): Promise<Row[]> {
  if (builder === "parquet") return parquetRows(file);
  const text = readFileSync(file, "utf8");
  if (builder === "json") return jsonRows(file, text, options.field);
  if (builder === "csv") return csvRows(file, text, options);
  return textRows(text);
}
