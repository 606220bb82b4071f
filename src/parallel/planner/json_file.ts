// Reads a JSON object from disk with errors that name the file and what it was meant to be.
import { readFileSync } from "node:fs";
import { parseJson } from "../../torch/serialization/json.js";

export function readJsonObject(file: string, what: string, hint = ""): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new Error(`cannot read ${what} '${file}'${hint}`);
  }
  let json: unknown;
  try {
    json = parseJson(text);
  } catch (e) {
    throw new Error(`${what} '${file}' is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new Error(`${what} '${file}' is not a JSON object`);
  return json as Record<string, unknown>;
}
