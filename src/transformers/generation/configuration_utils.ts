// The generation fields `generate` reads and HF's precedence for them. The stored GenerationConfig
// (generation_config.json as a dict) lives with the model configs; this module types and resolves it.
import { GenerationConfig } from "../configuration_utils.js";

export { GenerationConfig };

export interface GenerationConfigFields {
  max_length?: number;
  max_new_tokens?: number | null;
  do_sample?: boolean;
  num_beams?: number;
  use_cache?: boolean;
  temperature?: number;
  top_k?: number | null;
  top_p?: number;
  repetition_penalty?: number;
  bos_token_id?: number | null;
  eos_token_id?: number | number[] | null;
  pad_token_id?: number | null;
}

type Kind = "int" | "number" | "boolean" | "ids";

export const FIELD_KINDS: Record<keyof GenerationConfigFields, Kind> = {
  max_length: "int",
  max_new_tokens: "int",
  do_sample: "boolean",
  num_beams: "int",
  use_cache: "boolean",
  temperature: "number",
  top_k: "int",
  top_p: "number",
  repetition_penalty: "number",
  bos_token_id: "int",
  eos_token_id: "ids",
  pad_token_id: "int",
};

/** HF's `GenerationConfig._get_default_generation_params()` for the fields tessera supports. */
export const GENERATION_DEFAULTS: Readonly<GenerationConfigFields> = {
  max_length: 20,
  do_sample: false,
  num_beams: 1,
  use_cache: true,
  temperature: 1.0,
  top_k: 50,
  top_p: 1.0,
  repetition_penalty: 1.0,
};

function fits(kind: Kind, v: unknown): boolean {
  switch (kind) {
    case "int":
      return Number.isInteger(v);
    case "number":
      return typeof v === "number" && !Number.isNaN(v);
    case "boolean":
      return typeof v === "boolean";
    case "ids":
      return Number.isInteger(v) || (Array.isArray(v) && v.every((x) => Number.isInteger(x)));
  }
}

/**
 * The supported fields of each layer, highest precedence first; a field takes the first value that
 * is neither undefined nor null (as HF fills unset fields from the model's config, then defaults).
 * `where` names each layer in the error for a value of the wrong type.
 */
export function resolveGenerationConfig(layers: [string, Readonly<Record<string, unknown>> | null | undefined][]): GenerationConfigFields {
  const out: Record<string, unknown> = {};
  for (const [k, kind] of Object.entries(FIELD_KINDS)) {
    for (const [where, layer] of layers) {
      const v = layer?.[k];
      if (v === undefined || v === null) continue;
      if (!fits(kind, v))
        throw new TypeError(
          `generate: ${where}: ${k} must be ${kind === "ids" ? "an integer or a list of integers" : `a${kind === "int" ? "n integer" : ` ${kind}`}`}, got ${JSON.stringify(v)}`,
        );
      out[k] = v;
      break;
    }
  }
  return out as GenerationConfigFields;
}
