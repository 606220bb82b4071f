// `generate` for causal LMs: greedy search and multinomial sampling with HF's loop
// (transformers/generation/utils.py `_sample`): prefill the prompt, then one token a step through the
// KV cache; position ids from the attention mask; finished rows get pad_token_id; scores in float32.
import { NotImplementedError, ValueError } from "../../torch/errors.js";
import * as torch from "../../torch/index.js";
import type { Tensor } from "../../torch/tensor.js";
import { escape } from "../../torch/memory.js";
import { FIELD_KINDS, GENERATION_DEFAULTS, resolveGenerationConfig, type GenerationConfigFields } from "./configuration_utils.js";
import { checkOptions, type OptionNames } from "../../torch/_options.js";
import {
  LogitsProcessorList,
  RepetitionPenaltyLogitsProcessor,
  TemperatureLogitsWarper,
  TopKLogitsWarper,
  TopPLogitsWarper,
} from "./logits_process.js";
import { EosTokenCriteria, MaxLengthCriteria, StoppingCriteriaList } from "./stopping_criteria.js";

/** `t`, handed to user code (a streamer) that may keep it past the step's scope. */
function escaped(t: Tensor): Tensor {
  escape(t);
  return t;
}

/**
 * The part of a causal LM that generate uses (every `*ForCausalLM` has it): `forward(input_ids,
 * {attention_mask, position_ids, past_key_values, use_cache})` returning `{logits, past_key_values}`.
 */
export interface GenerativeModel {
  /** Read for `max_position_embeddings`, which caps the default length. */
  config?: object;
  generation_config?: Readonly<Record<string, unknown>> | null;
  forward(...args: unknown[]): unknown;
}

/** HF's BaseStreamer: `put` gets the prompt once, then each step's new tokens [batch]; `end` at the end. */
export interface BaseStreamer {
  put(value: Tensor): void;
  end(): void;
}

export interface GenerateOptions extends GenerationConfigFields {
  attention_mask?: Tensor | null;
  generation_config?: Readonly<Record<string, unknown>> | null;
  /** A streamer, or a callback that gets each step's new tokens [batch]. */
  streamer?: BaseStreamer | ((next_tokens: Tensor) => void) | null;
}

const OPTION_KEYS = new Set(["attention_mask", "generation_config", "streamer"]);

const GENERATE_OPTIONS: OptionNames<GenerateOptions> = {
  ...(Object.fromEntries(Object.keys(FIELD_KINDS).map((k) => [k, true])) as OptionNames<GenerationConfigFields>),
  attention_mask: true,
  generation_config: true,
  streamer: true,
};

/** explicit options > `generation_config` > the model's generation_config > HF defaults. */
function resolveConfig(model: GenerativeModel, options: GenerateOptions): { gc: GenerationConfigFields; defaultLength: boolean } {
  const explicit: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (!OPTION_KEYS.has(k)) explicit[k] = v;
  const layers: Parameters<typeof resolveGenerationConfig>[0] = [
    ["generate options", explicit],
    ["generation_config", options.generation_config],
    ["model.generation_config", model.generation_config],
  ];
  const set = resolveGenerationConfig(layers);
  const gc = resolveGenerationConfig([...layers, ["defaults", GENERATION_DEFAULTS as Record<string, unknown>]]);
  return { gc, defaultLength: set.max_length === undefined && set.max_new_tokens === undefined };
}

function eosList(eos: number | number[] | null | undefined): number[] {
  if (eos === null || eos === undefined) return [];
  return Array.isArray(eos) ? eos : [eos];
}

/** HF's `_get_logits_processor` for the supported processors, in HF's order. */
export function get_logits_processor(gc: GenerationConfigFields): LogitsProcessorList {
  const list = new LogitsProcessorList();
  if (gc.repetition_penalty !== undefined && gc.repetition_penalty !== 1.0)
    list.push(new RepetitionPenaltyLogitsProcessor(gc.repetition_penalty));
  if (gc.do_sample) {
    if (gc.temperature !== undefined && gc.temperature !== 1.0) list.push(new TemperatureLogitsWarper(gc.temperature));
    if (gc.top_k !== undefined && gc.top_k !== null && gc.top_k !== 0) list.push(new TopKLogitsWarper(gc.top_k));
    if (gc.top_p !== undefined && gc.top_p < 1.0) list.push(new TopPLogitsWarper(gc.top_p));
  }
  return list;
}

function checkInputs(input_ids: Tensor, attention_mask: Tensor | null | undefined): void {
  if (!(input_ids instanceof torch.Tensor)) throw new TypeError("generate: input_ids must be a Tensor of token ids [batch, seq]");
  if (input_ids.dim() !== 2)
    throw new ValueError(
      `generate: input_ids must be 2-D [batch, seq], got shape [${input_ids.shape.join(", ")}] (use input_ids.unsqueeze(0) for one prompt)`,
    );
  if (input_ids.dtype.is_floating_point || input_ids.dtype.is_complex)
    throw new ValueError(`generate: input_ids must hold integer token ids, got ${input_ids.dtype}`);
  if (input_ids.shape[1] === 0) throw new ValueError("generate: input_ids is empty (sequence length 0); give at least one prompt token");
  if (attention_mask !== null && attention_mask !== undefined && JSON.stringify(attention_mask.shape) !== JSON.stringify(input_ids.shape)) {
    throw new ValueError(
      `generate: attention_mask shape [${attention_mask.shape.join(", ")}] must equal input_ids shape [${input_ids.shape.join(", ")}]`,
    );
  }
}

function logitsOf(out: unknown): { logits: Tensor; past_key_values: unknown } {
  const o = out as { logits?: unknown; past_key_values?: unknown } | null;
  if (o === null || typeof o !== "object" || !(o.logits instanceof torch.Tensor)) {
    throw new Error("generate: the model's forward must return an object with `logits` [batch, seq, vocab]");
  }
  return { logits: o.logits, past_key_values: o.past_key_values };
}

/** A callback streamer sees only the new tokens; HF's streamer protocol puts the prompt first. */
function toStreamer(s: GenerateOptions["streamer"]): BaseStreamer | null {
  if (typeof s !== "function") return s ?? null;
  let sawPrompt = false;
  return {
    put: (v) => {
      if (sawPrompt) s(v);
      sawPrompt = true;
    },
    end: () => undefined,
  };
}

/**
 * Generates up to `max_new_tokens` tokens after each prompt; returns [batch, prompt_len + new]
 * (prompt included, as HF). Batched prompts must be left-padded, with their attention_mask.
 */
export function generate(model: GenerativeModel, input_ids: Tensor, options: GenerateOptions = {}): Tensor {
  checkOptions("generate", options, GENERATE_OPTIONS);
  checkInputs(input_ids, options.attention_mask);
  const { gc, defaultLength } = resolveConfig(model, options);
  if (gc.num_beams !== undefined && gc.num_beams !== 1)
    throw new NotImplementedError(`generate: beam search is not supported (num_beams=${gc.num_beams}); use num_beams=1`);
  const eos = eosList(gc.eos_token_id);
  let pad = gc.pad_token_id ?? null;
  if (pad === null && eos.length > 0) {
    console.warn(`Setting \`pad_token_id\` to \`eos_token_id\`:${eos[0]} for open-end generation.`);
    pad = eos[0];
  }
  const promptLen = input_ids.shape[1];
  let maxLength: number;
  if (gc.max_new_tokens !== undefined && gc.max_new_tokens !== null) {
    if (!Number.isInteger(gc.max_new_tokens) || gc.max_new_tokens < 1)
      throw new ValueError(`generate: max_new_tokens must be a positive integer, got ${gc.max_new_tokens}`);
    maxLength = promptLen + gc.max_new_tokens;
  } else if (defaultLength) {
    // HF 5.x: the model-agnostic default means 20 new tokens, capped at max_position_embeddings.
    maxLength = promptLen + (gc.max_length ?? 20);
    const maxPos = (model.config as { max_position_embeddings?: unknown } | undefined)?.max_position_embeddings;
    if (typeof maxPos === "number") maxLength = Math.min(maxLength, maxPos);
    console.warn(
      `Using the model-agnostic default \`max_length\` (=${gc.max_length ?? 20}) to control the generation length (${maxLength - promptLen} new tokens). We recommend setting \`max_new_tokens\` to control the maximum length of the generation.`,
    );
  } else {
    maxLength = gc.max_length ?? 20;
  }
  if (promptLen >= maxLength) {
    throw new ValueError(
      `generate: input length of input_ids is ${promptLen}, but \`max_length\` is set to ${maxLength}. Increase \`max_length\` or, better yet, set \`max_new_tokens\`.`,
    );
  }
  const processors = get_logits_processor(gc);
  const stopping = new StoppingCriteriaList(new MaxLengthCriteria(maxLength));
  if (eos.length > 0) stopping.push(new EosTokenCriteria(eos));
  const useCache = gc.use_cache ?? true;
  const streamer = toStreamer(options.streamer);

  return torch.no_grad(() => {
    let ids = input_ids.to(torch.int64);
    const dev = ids.device;
    let mask: Tensor | undefined = options.attention_mask?.to(torch.int64) ?? undefined;
    if (mask === undefined) {
      // HF's default: padding tokens are masked when pad is in the prompt and is not also an eos token.
      mask = pad !== null && ids.eq(pad).any().item() && !eos.includes(pad) ? ids.ne(pad).to(torch.int64) : torch.ones_like(ids);
    }
    let position_ids = mask.cumsum(-1).sub(1).masked_fill(mask.eq(0), 0);
    // As HF, an all-ones mask is dropped: the model then uses plain causal attention.
    let attention_mask: Tensor | undefined = mask.eq(0).any().item() ? mask : undefined;
    const padTensor = torch.tensor(pad ?? 0, { dtype: torch.int64 }).to(dev);
    let unfinished = torch.ones([ids.shape[0]], { dtype: torch.bool, device: dev });
    let cache: unknown = undefined;
    streamer?.put(escaped(ids.cpu()));
    // One scope a token: the step's logits and scores go when it ends, not at a later GC; what the
    // next step reads is returned, and the cache keeps its own tensors (cache_utils.ts).
    for (let step = 0, done = false; !done; step++) {
      [ids, position_ids, attention_mask, unfinished, cache, done] = torch.scope(() => {
        const incremental = useCache && step > 0;
        const out = logitsOf(
          model.forward(incremental ? ids.index([":", "-1:"]) : ids, {
            attention_mask,
            position_ids: incremental ? position_ids.index([":", "-1:"]) : position_ids,
            past_key_values: incremental ? cache : undefined,
            use_cache: useCache,
          }),
        );
        const logits = out.logits.index([":", -1]).to({ dtype: torch.float32, copy: true });
        const scores = processors.call(ids, logits);
        let next = gc.do_sample ? torch.multinomial(scores.softmax(-1), 1).squeeze(1) : scores.argmax(-1);
        if (eos.length > 0) next = torch.where(unfinished, next, padTensor);
        const new_ids = torch.cat([ids, next.unsqueeze(1)], -1);
        streamer?.put(escaped(next.cpu()));
        const new_positions = torch.cat([position_ids, position_ids.index([":", "-1:"]).add(1)], -1);
        const new_mask =
          attention_mask === undefined ? undefined : torch.cat([attention_mask, attention_mask.new_ones([attention_mask.shape[0], 1])], -1);
        const still = unfinished.logical_and(stopping.call(new_ids).logical_not());
        return [new_ids, new_positions, new_mask, still, out.past_key_values, !still.any().item()] as const;
      });
    }
    streamer?.end();
    return ids;
  });
}
