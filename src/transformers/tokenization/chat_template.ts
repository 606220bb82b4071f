// Chat templates are Jinja; rendered with @huggingface/jinja, the engine transformers.js uses. A
// template comes from a file, so its rendering is bounded: in evaluation steps (a loop without end),
// in the length of range() (which builds its list at once) and in the length of any string made.
import { Environment, Interpreter, Template } from "@huggingface/jinja";

const MAX_STEPS = 1_000_000;
const MAX_RANGE = 100_000;
const MAX_OUTPUT_CHARS = 1 << 24;

/** Jinja's range(), refusing lists longer than MAX_RANGE before building them. */
function boundedRange(start: number, stop?: number, step = 1): number[] {
  const [from, to] = stop === undefined ? [0, start] : [start, stop];
  if (![from, to, step].every(Number.isInteger) || step === 0)
    throw new Error(`chat template: range(${from}, ${to}, ${step}) needs integers and a step other than 0`);
  const length = Math.max(0, Math.ceil((to - from) / step));
  if (length > MAX_RANGE)
    throw new Error(`chat template: range() of ${length} items is more than the ${MAX_RANGE} a template may loop over`);
  return Array.from({ length }, (_, i) => from + i * step);
}

export interface ChatMessage {
  role: string;
  content: string;
  [key: string]: unknown;
}

/** tokenizer_config.json's chat_template: a string, or a list of named templates ("default" wins). */
export function selectChatTemplate(value: unknown, name?: string): string | null {
  if (typeof value === "string") return value;
  if (!Array.isArray(value)) return null;
  const named = value as { name: string; template: string }[];
  if (!named.every((t) => t !== null && typeof t === "object" && typeof t.name === "string" && typeof t.template === "string")) {
    throw new Error(
      `chat_template: a list of templates must hold {"name": string, "template": string} entries, got ${JSON.stringify(value).slice(0, 200)}`,
    );
  }
  const wanted = named.find((t) => t.name === (name ?? "default"));
  if (!wanted && name) throw new Error(`chat template "${name}" not found; available: ${named.map((t) => t.name).join(", ")}`);
  return wanted?.template ?? null;
}

export function renderChatTemplate(template: string, context: Record<string, unknown>): string {
  let compiled: Template;
  try {
    compiled = new Template(template);
  } catch (e) {
    throw new Error(`chat template does not parse: ${(e as Error).message}`);
  }
  // The library has no step limit and its range() has no bound: for the span of this (synchronous)
  // render, its interpreter's evaluate() is counted and the range its globals get is ours.
  const evaluate = Interpreter.prototype.evaluate;
  const set = Environment.prototype.set;
  Environment.prototype.set = function (this: Environment, name: string, value: unknown) {
    return set.call(this, name, name === "range" ? boundedRange : value);
  };
  let steps = 0;
  Interpreter.prototype.evaluate = function (this: Interpreter, ...args: Parameters<typeof evaluate>) {
    if (++steps > MAX_STEPS) throw new Error(`chat template: more than ${MAX_STEPS} evaluation steps (a loop without end?)`);
    const value = evaluate.apply(this, args);
    const text = (value as { value?: unknown }).value;
    if (typeof text === "string" && text.length > MAX_OUTPUT_CHARS)
      throw new Error(`chat template: output of more than ${MAX_OUTPUT_CHARS} characters`);
    return value;
  };
  try {
    return compiled.render(context);
  } catch (e) {
    if (e instanceof RangeError) throw new Error(`chat template: ${e.message} (recursion without end, or a string too long)`);
    throw e;
  } finally {
    Interpreter.prototype.evaluate = evaluate;
    Environment.prototype.set = set;
  }
}
