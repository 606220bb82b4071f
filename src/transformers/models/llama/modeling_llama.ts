// Llama (2 and 3) as HF's modeling_llama.py: RMSNorm, RoPE (default, linear, llama3), grouped-query
// attention through scaled_dot_product_attention, SwiGLU MLP. Module names equal HF's, so
// state_dict keys are checkpoint keys. Mistral and Qwen2 reuse these classes with their own
// `LlamaVariant` (biases, sliding window).
import { NotImplementedError, ValueError } from "../../../torch/errors.js";
import * as torch from "../../../torch/index.js";
import type { Tensor } from "../../../torch/tensor.js";
import { scope } from "../../../torch/memory.js";
import { Module, ModuleList, Linear, Embedding, RMSNorm, type FactoryOptions } from "../../../torch/nn/index.js";
import { get_activation } from "../../activations.js";
import { DynamicCache, updateCache } from "../../cache_utils.js";
import { ForCausalLMLoss } from "../../loss_utils.js";
import { causalAttentionMask, type AttentionMask } from "../../masking_utils.js";
import { BaseModelOutputWithPast, CausalLMOutputWithPast } from "../../modeling_outputs.js";
import { CAUSAL_LM_FORWARD_OPTIONS, PreTrainedModel, type CausalLMForwardOptions } from "../../modeling_utils.js";
import { checkOptions } from "../../../torch/_options.js";

export type { CausalLMForwardOptions };
import { LlamaConfig, type RopeParameters } from "./configuration_llama.js";

const F = torch.nn.functional;

/** What differs between Llama, Mistral and Qwen2 inside the shared decoder. */
export interface LlamaVariant {
  qkv_bias: boolean;
  o_bias: boolean;
  /** The sliding window of layer `layer_idx`, or null for full causal attention. */
  sliding_window(layer_idx: number): number | null;
}

/** RMSNorm computed in float32 and cast back before the weight, as HF's LlamaRMSNorm. */
export class LlamaRMSNorm extends RMSNorm {
  constructor(hidden_size: number, eps: number, factory: FactoryOptions = {}) {
    super(hidden_size, { eps, ...factory });
  }

  override forward(x: Tensor): Tensor {
    const normed = F.rms_norm(x.float(), this.normalized_shape, null, this.eps).to(x.dtype);
    return this.weight === null ? normed : this.weight.mul(normed);
  }
}

/** Inverse RoPE frequencies for `dim` rotary channels, per HF's ROPE_INIT_FUNCTIONS. */
export function ropeInvFreq(p: RopeParameters, dim: number): Tensor {
  const exponents = torch.arange(0, dim, 2, { dtype: torch.int64 }).float().div(dim);
  let inv_freq = torch.pow(p.rope_theta, exponents).reciprocal();
  switch (p.rope_type) {
    case "default":
      return inv_freq;
    case "linear":
      return inv_freq.div(p.factor ?? 1);
    case "llama3": {
      const factor = p.factor ?? 8;
      const low = p.low_freq_factor ?? 1;
      const high = p.high_freq_factor ?? 4;
      const old_len = p.original_max_position_embeddings ?? 8192;
      const wavelen = inv_freq.reciprocal().mul(2 * Math.PI);
      inv_freq = torch.where(wavelen.gt(old_len / low), inv_freq.div(factor), inv_freq);
      const smooth = wavelen
        .reciprocal()
        .mul(old_len)
        .sub(low)
        .div(high - low);
      const smoothed = smooth.neg().add(1).mul(inv_freq).div(factor).add(smooth.mul(inv_freq));
      const medium = wavelen
        .lt(old_len / high)
        .logical_not()
        .logical_and(wavelen.gt(old_len / low).logical_not());
      return torch.where(medium, smoothed, inv_freq);
    }
    default:
      throw new NotImplementedError(`rope_type ${JSON.stringify(p.rope_type)} is not supported (supported: default, linear, llama3)`);
  }
}

export class LlamaRotaryEmbedding extends Module {
  declare inv_freq: Tensor;

  constructor(rope: RopeParameters, dim: number) {
    super();
    this.register_buffer("inv_freq", ropeInvFreq(rope, dim), false);
  }

  /** cos and sin [batch, seq, dim] for `position_ids` [batch, seq], in x's dtype. */
  override forward(x: Tensor, position_ids: Tensor): [Tensor, Tensor] {
    const inv = this.inv_freq
      .to({ device: x.device })
      .float()
      .unsqueeze(0)
      .unsqueeze(-1)
      .expand([position_ids.size(0), -1, 1]);
    const freqs = inv.matmul(position_ids.unsqueeze(1).float()).transpose(1, 2);
    const emb = torch.cat([freqs, freqs], -1);
    return [emb.cos().to(x.dtype), emb.sin().to(x.dtype)];
  }
}

export function rotate_half(x: Tensor): Tensor {
  const half = x.size(-1) / 2;
  return torch.cat([x.narrow(-1, half, half).neg(), x.narrow(-1, 0, half)], -1);
}

/** q, k [batch, heads, seq, dim] rotated by cos, sin [batch, seq, dim]. */
export function apply_rotary_pos_emb(q: Tensor, k: Tensor, cos: Tensor, sin: Tensor): [Tensor, Tensor] {
  const c = cos.unsqueeze(1);
  const s = sin.unsqueeze(1);
  // Each in a scope: its four temporaries go before the next tensor is rotated, as Python frees
  // them at their last use, so the next allocations reuse memory still in cache.
  const rotate = (x: Tensor): Tensor => scope(() => x.mul(c).add(rotate_half(x).mul(s)));
  return [rotate(q), rotate(k)];
}

/** [batch, kv_heads, seq, dim] → [batch, kv_heads * n_rep, seq, dim], as HF's repeat_kv. */
export function repeat_kv(x: Tensor, n_rep: number): Tensor {
  if (n_rep === 1) return x;
  const [b, h, s, d] = x.shape;
  return x
    .unsqueeze(2)
    .expand([b, h, n_rep, s, d])
    .reshape(b, h * n_rep, s, d);
}

/**
 * SDPA over [batch, heads, seq, dim]; returns [batch, seq, heads * dim]. Grouped-query attention
 * goes through SDPA's enable_gqa where HF's sdpa_attention_forward uses it (no mask, head dim
 * ≤ 256), which reads the shared keys in place; elsewhere repeat_kv copies them, as HF does.
 */
export function sdpaAttention(q: Tensor, k: Tensor, v: Tensor, mask: AttentionMask, scale: number, dropout_p = 0): Tensor {
  const n_rep = q.size(1) / k.size(1);
  const gqa = n_rep > 1 && mask.mask === null && k.size(-1) === v.size(-1) && k.size(-1) <= 256;
  const [key, value] = gqa ? [k, v] : [repeat_kv(k, n_rep), repeat_kv(v, n_rep)];
  const out = F.scaled_dot_product_attention(q, key, value, {
    attn_mask: mask.mask,
    is_causal: mask.is_causal,
    scale,
    dropout_p,
    enable_gqa: gqa,
  });
  return out.transpose(1, 2).reshape(q.size(0), q.size(2), -1);
}

export interface LayerInputs {
  cos: Tensor;
  sin: Tensor;
  mask: AttentionMask;
  past_key_values: DynamicCache | null;
}

export class LlamaAttention extends Module {
  readonly head_dim: number;
  readonly scaling: number;
  q_proj: Linear;
  k_proj: Linear;
  v_proj: Linear;
  o_proj: Linear;

  constructor(
    readonly config: LlamaConfig,
    readonly layer_idx: number,
    variant: LlamaVariant,
    factory: FactoryOptions,
  ) {
    super();
    const { hidden_size: h, num_attention_heads: n, num_key_value_heads: kv, head_dim } = config;
    this.head_dim = head_dim;
    this.scaling = head_dim ** -0.5;
    this.q_proj = new Linear(h, n * head_dim, { bias: variant.qkv_bias, ...factory });
    this.k_proj = new Linear(h, kv * head_dim, { bias: variant.qkv_bias, ...factory });
    this.v_proj = new Linear(h, kv * head_dim, { bias: variant.qkv_bias, ...factory });
    this.o_proj = new Linear(n * head_dim, h, { bias: variant.o_bias, ...factory });
  }

  override forward(x: Tensor, { cos, sin, mask, past_key_values }: LayerInputs): Tensor {
    const [b, s] = x.shape;
    const heads = (t: Tensor): Tensor => t.view(b, s, -1, this.head_dim).transpose(1, 2);
    const [q, new_k] = apply_rotary_pos_emb(heads(this.q_proj.forward(x)), heads(this.k_proj.forward(x)), cos, sin);
    const new_v = heads(this.v_proj.forward(x));
    const [k, v] = past_key_values === null ? [new_k, new_v] : updateCache(past_key_values, new_k, new_v, this.layer_idx);
    const dropout = this.training ? this.config.attention_dropout : 0;
    return this.o_proj.forward(sdpaAttention(q, k, v, mask, this.scaling, dropout));
  }
}

/** The config fields a SwiGLU MLP reads (Baichuan's config has no mlp_bias: no biases). */
export interface MLPConfig {
  hidden_size: number;
  intermediate_size: number;
  hidden_act: string;
  mlp_bias?: boolean;
}

export class LlamaMLP extends Module {
  gate_proj: Linear;
  up_proj: Linear;
  down_proj: Linear;
  private readonly act: (x: Tensor) => Tensor;

  constructor(config: MLPConfig, factory: FactoryOptions) {
    super();
    const bias = config.mlp_bias ?? false;
    this.gate_proj = new Linear(config.hidden_size, config.intermediate_size, { bias, ...factory });
    this.up_proj = new Linear(config.hidden_size, config.intermediate_size, { bias, ...factory });
    this.down_proj = new Linear(config.intermediate_size, config.hidden_size, { bias, ...factory });
    this.act = get_activation(config.hidden_act);
  }

  override forward(x: Tensor): Tensor {
    return this.down_proj.forward(this.act(this.gate_proj.forward(x)).mul(this.up_proj.forward(x)));
  }
}

/** An attention module as a decoder layer holds it: `forward(hidden, inputs)`. */
// The typed forward comes first so calls resolve to it rather than to Module's untyped one.
export type AttentionModule<I> = { forward(x: Tensor, inputs: I): Tensor } & Module;

/** Pre-norm residual block, x + attn(norm(x)) then + mlp(norm(·)); Baichuan passes its own attention. */
export class LlamaDecoderLayer<I = LayerInputs> extends Module {
  self_attn: AttentionModule<I>;
  mlp: LlamaMLP;
  input_layernorm: LlamaRMSNorm;
  post_attention_layernorm: LlamaRMSNorm;

  constructor(self_attn: AttentionModule<I>, config: MLPConfig & { rms_norm_eps: number }, factory: FactoryOptions) {
    super();
    this.self_attn = self_attn;
    this.mlp = new LlamaMLP(config, factory);
    this.input_layernorm = new LlamaRMSNorm(config.hidden_size, config.rms_norm_eps, factory);
    this.post_attention_layernorm = new LlamaRMSNorm(config.hidden_size, config.rms_norm_eps, factory);
  }

  // In a scope: the layer's intermediates go as soon as it returns (autograd holds its own
  // references to what backward needs), not at V8's next full collection. The attention's own
  // (projections before RoPE, its output) go before the MLP runs, which then reuses their memory
  // while it is still in cache, as in Python, where each goes at its last use.
  override forward(x: Tensor, inputs: I): Tensor {
    return scope(() => {
      const h = scope(() => x.add(this.self_attn.forward(this.input_layernorm.forward(x), inputs)));
      return h.add(this.mlp.forward(this.post_attention_layernorm.forward(h)));
    });
  }
}

/** The decoder inputs every family resolves the same way: embeddings, cache, positions. */
export interface DecoderStart {
  inputs_embeds: Tensor;
  cache: DynamicCache | null;
  past_len: number;
  position_ids: Tensor;
}

export function startDecoder(
  embed: Embedding,
  input_ids: Tensor | null,
  opts: CausalLMForwardOptions,
  default_use_cache: boolean,
): DecoderStart {
  checkOptions("forward", opts, CAUSAL_LM_FORWARD_OPTIONS);
  const inputs_embeds = opts.inputs_embeds ?? (input_ids === null ? null : embed.forward(input_ids));
  if (inputs_embeds === null) throw new ValueError("forward: pass input_ids or inputs_embeds");
  let cache = opts.past_key_values ?? null;
  if (cache === null && (opts.use_cache ?? default_use_cache)) cache = new DynamicCache();
  const past_len = cache?.get_seq_length() ?? 0;
  // HF: cache_position = arange(past, past + seq); position_ids = cache_position.unsqueeze(0).
  const position_ids =
    opts.position_ids ?? torch.arange(past_len, past_len + inputs_embeds.size(1), { device: inputs_embeds.device }).unsqueeze(0);
  return { inputs_embeds, cache, past_len, position_ids };
}

export class LlamaModel extends Module {
  embed_tokens: Embedding;
  layers: ModuleList<LlamaDecoderLayer>;
  norm: LlamaRMSNorm;
  rotary_emb: LlamaRotaryEmbedding;

  constructor(
    readonly config: LlamaConfig,
    readonly variant: LlamaVariant,
    factory: FactoryOptions,
  ) {
    super();
    this.embed_tokens = new Embedding(config.vocab_size, config.hidden_size, { padding_idx: config.pad_token_id, ...factory });
    this.layers = new ModuleList(
      Array.from(
        { length: config.num_hidden_layers },
        (_, i) => new LlamaDecoderLayer(new LlamaAttention(config, i, variant, factory), config, factory),
      ),
    );
    this.norm = new LlamaRMSNorm(config.hidden_size, config.rms_norm_eps, factory);
    this.rotary_emb = new LlamaRotaryEmbedding(config.rope_parameters, config.head_dim);
  }

  override forward(input_ids: Tensor | null, opts: CausalLMForwardOptions = {}): BaseModelOutputWithPast {
    const { inputs_embeds, cache, past_len, position_ids } = startDecoder(this.embed_tokens, input_ids, opts, this.config.use_cache);
    const [cos, sin] = this.rotary_emb.forward(inputs_embeds, position_ids);
    const masks = new Map<number | null, AttentionMask>();
    const maskFor = (window: number | null): AttentionMask => {
      let m = masks.get(window);
      if (m === undefined) {
        m = causalAttentionMask({
          attention_mask: opts.attention_mask ?? null,
          q_len: inputs_embeds.size(1),
          past_len,
          dtype: inputs_embeds.dtype,
          device: inputs_embeds.device,
          sliding_window: window,
        });
        masks.set(window, m);
      }
      return m;
    };
    let h = inputs_embeds;
    for (const [i, layer] of [...this.layers].entries()) {
      h = layer.forward(h, { cos, sin, mask: maskFor(this.variant.sliding_window(i)), past_key_values: cache });
    }
    return new BaseModelOutputWithPast(this.norm.forward(h), cache);
  }
}

export class LlamaForCausalLM extends PreTrainedModel<LlamaConfig> {
  static override config_class: new (d: Record<string, unknown>) => LlamaConfig = LlamaConfig;
  // Older checkpoints stored the RoPE frequencies; they are recomputed from the config.
  static override _keys_to_ignore_on_load_unexpected = [/rotary_emb\.inv_freq$/];
  model: LlamaModel;
  lm_head: Linear;

  /** The decoder variant for `config`; Mistral and Qwen2 override it. */
  static variant(config: LlamaConfig): LlamaVariant {
    return { qkv_bias: config.attention_bias, o_bias: config.attention_bias, sliding_window: () => null };
  }

  constructor(config: LlamaConfig, factory: FactoryOptions = {}) {
    super(config);
    const variant = (this.constructor as typeof LlamaForCausalLM).variant(config);
    this.model = new LlamaModel(config, variant, factory);
    this.lm_head = new Linear(config.hidden_size, config.vocab_size, { bias: false, ...factory });
  }

  override get_input_embeddings(): Embedding {
    return this.model.embed_tokens;
  }

  override get_output_embeddings(): Linear {
    return this.lm_head;
  }

  // In a scope: what runs between the decoder layers (embeddings, rotary tables, masks, each
  // layer's output, the final norm) is freed when forward returns, not at V8's next full
  // collection; autograd keeps what backward needs, and the output keeps what it returns.
  override forward(input_ids: Tensor | null, opts: CausalLMForwardOptions = {}): CausalLMOutputWithPast {
    return scope(() => {
      const out = this.model.forward(input_ids, opts);
      const logits = this.lm_head.forward(out.last_hidden_state);
      const loss = opts.labels ? ForCausalLMLoss(logits, opts.labels, this.config.vocab_size) : null;
      return new CausalLMOutputWithPast(loss, logits, out.past_key_values);
    });
  }
}
