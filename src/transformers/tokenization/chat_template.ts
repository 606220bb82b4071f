// Chat templates are Jinja; rendered with @huggingface/jinja, the engine transformers.js uses.
import { Template } from "@huggingface/jinja";

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
    throw new Error(`chat_template: a list of templates must hold {"name": string, "template": string} entries, got ${JSON.stringify(value).slice(0, 200)}`);
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
  return compiled.render(context);
}
