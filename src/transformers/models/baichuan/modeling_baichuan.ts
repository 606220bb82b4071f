// Baichuan2 (7B and 13B) after the published modeling_baichuan.py of each: a fused W_pack q/k/v
// projection, RMSNorm, SwiGLU MLP, and NormHead (lm_head rows L2-normalised: every forward in
// training, once in place on the first forward in eval). 7B rotates q and k (RoPE, base 10000,
// in float32); 13B adds ALiBi biases (slopes from `_get_interleave`) to the causal mask.
import { ValueError } from "../../../torch/errors.js";
import * as torch from "../../../torch/index.js";
import type { Tensor } from "../../../torch/tensor.js";
import { Module, ModuleList, Linear, Embedding, Parameter, type FactoryOptions } from "../../../torch/nn/index.js";
import { updateCache, type DynamicCache } from "../../cache_utils.js";
import { additiveMask, allowedPositions, causalAttentionMask, type AttentionMask } from "../../masking_utils.js";
import { BaseModelOutputWithPast, CausalLMOutputWithPast } from "../../modeling_outputs.js";
import { PreTrainedModel } from "../../modeling_utils.js";
import {
  LlamaDecoderLayer,
  LlamaRMSNorm,
  LlamaRotaryEmbedding,
  apply_rotary_pos_emb,
  sdpaAttention,
  startDecoder,
  type CausalLMForwardOptions,
} from "../llama/modeling_llama.js";
import { BaichuanConfig } from "./configuration_baichuan.js";

const F = torch.nn.functional;

/** ALiBi head slopes, as Baichuan2-13B's `_get_interleave(n)`. */
export function _get_interleave(n: number): number[] {
  const powerOf2 = (m: number): number[] => {
    const start = 2 ** -(2 ** -(Math.log2(m) - 3));
    return Array.from({ length: m }, (_, i) => start * start ** i);
  };
  if (Number.isInteger(Math.log2(n))) return powerOf2(n);
  const closest = 2 ** Math.floor(Math.log2(n));
  return [
    ...powerOf2(closest),
    ..._get_interleave(2 * closest)
      .filter((_, i) => i % 2 === 0)
      .slice(0, n - closest),
  ];
}

/** The lm_head of Baichuan2: logits against the L2-normalised rows of `weight`. */
export class NormHead extends Module {
  weight: Parameter;
  private first_flag = true;

  constructor(hidden_size: number, vocab_size: number, factory: FactoryOptions = {}) {
    super();
    this.weight = new Parameter(torch.empty([vocab_size, hidden_size], { device: factory.device ?? null, dtype: factory.dtype ?? null }));
    torch.nn.init.kaiming_uniform_(this.weight, { a: Math.sqrt(5) });
  }

  /** The weight the logits are taken against: normalised through autograd in training; in eval normalised in place once. */
  linear_weight(): Tensor {
    const normalize = (w: Tensor): Tensor => w.div(w.norm(2, [1], true).clamp_min(1e-12));
    if (this.training) return normalize(this.weight);
    if (this.first_flag) {
      this.first_flag = false;
      torch.no_grad(() => this.weight.copy_(normalize(this.weight)));
    }
    return this.weight;
  }

  override forward(x: Tensor): Tensor {
    return F.linear(x, this.linear_weight());
  }
}

interface LayerInputs {
  rope: [Tensor, Tensor] | null;
  mask: AttentionMask;
  past_key_values: DynamicCache | null;
}

export class BaichuanAttention extends Module {
  W_pack: Linear;
  o_proj: Linear;
  /** The width of each of q, k and v in W_pack's output (HF's `hidden_size`; a tensor-parallel plan sets its rank's). */
  hidden_size: number;
  private readonly head_dim: number;

  constructor(
    readonly config: BaichuanConfig,
    readonly layer_idx: number,
    factory: FactoryOptions,
  ) {
    super();
    const h = config.hidden_size;
    this.hidden_size = h;
    this.head_dim = h / config.num_attention_heads;
    if (!Number.isInteger(this.head_dim))
      throw new ValueError(
        `hidden_size must be divisible by num_heads (got hidden_size: ${h} and num_heads: ${config.num_attention_heads})`,
      );
    this.W_pack = new Linear(h, 3 * h, { bias: false, ...factory });
    this.o_proj = new Linear(h, h, { bias: false, ...factory });
  }

  override forward(x: Tensor, { rope, mask, past_key_values }: LayerInputs): Tensor {
    const [b, s] = x.shape;
    let [q, k, v] = this.W_pack.forward(x)
      .split(this.hidden_size, -1)
      .map((t) => t.view(b, s, -1, this.head_dim).transpose(1, 2));
    if (rope !== null) {
      const [qr, kr] = apply_rotary_pos_emb(q.float(), k.float(), rope[0], rope[1]);
      [q, k] = [qr.to(q.dtype), kr.to(k.dtype)];
    }
    if (past_key_values !== null) [k, v] = updateCache(past_key_values, k, v, this.layer_idx);
    return this.o_proj.forward(sdpaAttention(q.contiguous(), k, v, mask, this.head_dim ** -0.5));
  }
}

export class BaichuanModel extends Module {
  embed_tokens: Embedding;
  layers: ModuleList<LlamaDecoderLayer<LayerInputs>>;
  norm: LlamaRMSNorm;
  rotary_emb: LlamaRotaryEmbedding | null;
  /** The ALiBi slope of each head the attention computes (a tensor-parallel plan keeps its rank's heads'). */
  slopes: number[];

  constructor(
    readonly config: BaichuanConfig,
    factory: FactoryOptions,
  ) {
    super();
    this.embed_tokens = new Embedding(config.vocab_size, config.hidden_size, { padding_idx: config.pad_token_id, ...factory });
    this.layers = new ModuleList(
      Array.from(
        { length: config.num_hidden_layers },
        (_, i) => new LlamaDecoderLayer(new BaichuanAttention(config, i, factory), config, factory),
      ),
    );
    this.norm = new LlamaRMSNorm(config.hidden_size, config.rms_norm_eps, factory);
    const rope = config.position_encoding === "rope";
    this.rotary_emb = rope
      ? new LlamaRotaryEmbedding({ rope_type: "default", rope_theta: 10000 }, config.hidden_size / config.num_attention_heads)
      : null;
    this.slopes = rope ? [] : _get_interleave(config.num_attention_heads);
  }

  /**
   * 13B: ALiBi slope·(key − query position) plus finfo.min where the published code masks: future
   * keys, padded keys, and every key of a padded query (its expanded mask keeps only pairs of real
   * tokens). Its eager attention clamps scores at finfo.min, so a padded query attends uniformly.
   */
  private alibiMask(attention_mask: Tensor | null, q_len: number, past_len: number, x: Tensor): AttentionMask {
    const device = x.device;
    let allowed = allowedPositions({ attention_mask, q_len, past_len, dtype: x.dtype, device });
    if (attention_mask !== null) {
      const queries = attention_mask.to({ device }).narrow(-1, past_len, q_len).bool();
      allowed = allowed.logical_and(queries.unsqueeze(1).unsqueeze(-1));
    }
    const distance = torch
      .arange(past_len + q_len, { device })
      .unsqueeze(0)
      .sub(torch.arange(past_len, past_len + q_len, { device }).unsqueeze(1));
    const slopes = torch.tensor(this.slopes, { dtype: torch.float32, device }).view(-1, 1, 1);
    const bias = slopes.mul(distance.float()).unsqueeze(0).to(x.dtype);
    return { mask: additiveMask(allowed, x.dtype).add(bias), is_causal: false };
  }

  /**
   * 7B: HF 4's _prepare_decoder_attention_mask, the causal finfo.min mask plus the padding finfo.min
   * mask — their sum overflows to -inf where both apply, as in the published model.
   */
  private ropeMask(attention_mask: Tensor | null, q_len: number, past_len: number, x: Tensor): AttentionMask {
    const plain = causalAttentionMask({ attention_mask, q_len, past_len, dtype: x.dtype, device: x.device });
    if (plain.mask === null || attention_mask?.dim() === 4) return plain;
    const causal = additiveMask(allowedPositions({ attention_mask: null, q_len, past_len, dtype: x.dtype, device: x.device }), x.dtype);
    if (attention_mask === null) return { mask: causal, is_causal: false };
    const padding = additiveMask(attention_mask.to({ device: x.device }).bool().unsqueeze(1).unsqueeze(1), x.dtype);
    return { mask: causal.add(padding), is_causal: false };
  }

  override forward(input_ids: Tensor | null, opts: CausalLMForwardOptions = {}): BaseModelOutputWithPast {
    const { inputs_embeds, cache, past_len, position_ids } = startDecoder(this.embed_tokens, input_ids, opts, this.config.use_cache);
    const attention_mask = opts.attention_mask ?? null;
    const q_len = inputs_embeds.size(1);
    const rope = this.rotary_emb === null ? null : this.rotary_emb.forward(inputs_embeds.float(), position_ids);
    const mask = (rope === null ? this.alibiMask : this.ropeMask).call(this, attention_mask, q_len, past_len, inputs_embeds);
    let h = inputs_embeds;
    for (const layer of this.layers) h = layer.forward(h, { rope, mask, past_key_values: cache });
    return new BaseModelOutputWithPast(this.norm.forward(h), cache);
  }
}

export class BaichuanForCausalLM extends PreTrainedModel<BaichuanConfig> {
  static override config_class: new (d: Record<string, unknown>) => BaichuanConfig = BaichuanConfig;
  static override _keys_to_ignore_on_load_unexpected = [/rotary_emb\.inv_freq$/];
  model: BaichuanModel;
  lm_head: NormHead;

  constructor(config: BaichuanConfig, factory: FactoryOptions = {}) {
    super(config);
    this.model = new BaichuanModel(config, factory);
    this.lm_head = new NormHead(config.hidden_size, config.vocab_size, factory);
  }

  override get_input_embeddings(): Embedding {
    return this.model.embed_tokens;
  }

  /** Shifted cross-entropy plus z_loss_weight · mean(max logit²), as the published model. */
  private loss(logits: Tensor, labels: Tensor): Tensor {
    const s = logits.size(1);
    const V = this.config.vocab_size;
    const shift_logits = logits.narrow(1, 0, s - 1).reshape(-1, V);
    const shift_labels = labels
      .to({ device: logits.device })
      .narrow(1, 1, s - 1)
      .reshape(-1);
    const z_loss = shift_logits.amax(-1).pow(2).mean().mul(this.config.z_loss_weight);
    return F.cross_entropy(shift_logits, shift_labels).add(z_loss);
  }

  override forward(input_ids: Tensor | null, opts: CausalLMForwardOptions = {}): CausalLMOutputWithPast {
    const out = this.model.forward(input_ids, opts);
    const logits = this.lm_head.forward(out.last_hidden_state);
    const loss = opts.labels ? this.loss(logits, opts.labels) : null;
    return new CausalLMOutputWithPast(loss, logits, out.past_key_values);
  }
}
