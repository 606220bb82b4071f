// JSON read from files (configs, tokenizers, indexes, plans) comes from whoever wrote the file. Every
// object it holds gets a null prototype, so a key such as "__proto__", "constructor" or "toString"
// is plain data: it can neither replace a prototype nor shadow an inherited method when read back.
import { readFileSync } from "node:fs";

/** Keys that, copied onto a class instance, would change its prototype or its class. */
const RESERVED_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

/** JSON.parse whose objects (at every depth) have a null prototype. */
export function parseJson(text: string): unknown {
  const root: unknown = JSON.parse(text);
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== "object") continue;
    if (!Array.isArray(v)) Object.setPrototypeOf(v, null);
    for (const child of Object.values(v)) if (child !== null && typeof child === "object") stack.push(child);
  }
  return root;
}

/** A JSON object from `file`, with null-prototype objects; errors name `what` and the file. */
export function readJsonObjectFile(file: string, what: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new Error(`${what}: cannot read ${file} (${(e as Error).message})`);
  }
  let value: unknown;
  try {
    value = parseJson(text);
  } catch (e) {
    throw new Error(`${what}: ${file} is not valid JSON (${(e as Error).message})`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error(`${what}: ${file} does not hold a JSON object`);
  return value as Record<string, unknown>;
}

/**
 * Copies `source`'s own keys onto `target` as data properties. A key that would change the
 * target's prototype or class, or shadow one of its methods, is an error naming `where`.
 */
export function assignOwnFields(target: object, source: Record<string, unknown>, where: string): void {
  for (const [k, v] of Object.entries(source)) {
    if (RESERVED_KEYS.has(k) || (!Object.hasOwn(target, k) && typeof (target as Record<string, unknown>)[k] === "function")) {
      throw new Error(`${where}: key ${JSON.stringify(k)} is not allowed (it names a prototype or method of ${target.constructor.name})`);
    }
    Object.defineProperty(target, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
}
