// GPT-2 as HF's modeling_gpt2.py: learned position embeddings, pre-LayerNorm blocks, Conv1D
// projections (weights stored [in, out]), gelu_new MLP, lm_head tied to wte.
import * as torch from "../../../torch/index.js";
import type { Tensor } from "../../../torch/tensor.js";
import { scope } from "../../../torch/memory.js";
import { Module, ModuleList, Linear, Embedding, LayerNorm, Parameter, type FactoryOptions } from "../../../torch/nn/index.js";
import { get_activation } from "../../activations.js";
import { ForCausalLMLoss } from "../../loss_utils.js";
import { causalAttentionMask, type AttentionMask } from "../../masking_utils.js";
import { BaseModelOutputWithPast, CausalLMOutputWithPast } from "../../modeling_outputs.js";
import { PreTrainedModel } from "../../modeling_utils.js";
import { updateCache, type DynamicCache } from "../../cache_utils.js";
import { sdpaAttention, startDecoder, type CausalLMForwardOptions } from "../llama/modeling_llama.js";
import { GPT2Config } from "./configuration_gpt2.js";

const F = torch.nn.functional;

/** HF's Conv1D: a linear layer whose weight is stored transposed, [nx (in), nf (out)]. */
export class Conv1D extends Module {
  weight: Parameter;
  bias: Parameter;

  constructor(
    readonly nf: number,
    readonly nx: number,
    factory: FactoryOptions = {},
  ) {
    super();
    this.weight = new Parameter(torch.empty([nx, nf], { device: factory.device ?? null, dtype: factory.dtype ?? null }));
    this.bias = new Parameter(torch.zeros([nf], { device: factory.device ?? null, dtype: factory.dtype ?? null }));
    torch.nn.init.normal_(this.weight, 0, 0.02);
  }

  // HF's addmm(bias, x, weight), as F.linear of the transposed weight: the same product, and a large
  // float32 one on the CPU runs in oneDNN as every Linear's does.
  override forward(x: Tensor): Tensor {
    return F.linear(x, this.weight.t(), this.bias);
  }
}

interface BlockInputs {
  mask: AttentionMask;
  past_key_values: DynamicCache | null;
}

export class GPT2Attention extends Module {
  c_attn: Conv1D;
  c_proj: Conv1D;
  /** The width of each of q, k and v in c_attn's output (HF's `split_size`; a tensor-parallel plan sets its rank's). */
  split_size: number;
  private readonly head_dim: number;
  private readonly scale: number;

  constructor(
    readonly config: GPT2Config,
    readonly layer_idx: number,
    factory: FactoryOptions,
  ) {
    super();
    const e = config.n_embd;
    this.split_size = e;
    this.head_dim = e / config.n_head;
    this.scale = (config.scale_attn_weights ? this.head_dim ** -0.5 : 1) / (config.scale_attn_by_inverse_layer_idx ? layer_idx + 1 : 1);
    this.c_attn = new Conv1D(3 * e, e, factory);
    this.c_proj = new Conv1D(e, e, factory);
  }

  override forward(x: Tensor, { mask, past_key_values }: BlockInputs): Tensor {
    const [b, s] = x.shape;
    const [q, k0, v0] = this.c_attn
      .forward(x)
      .split(this.split_size, 2)
      .map((t) => t.view(b, s, -1, this.head_dim).transpose(1, 2));
    const [k, v] = past_key_values === null ? [k0, v0] : updateCache(past_key_values, k0, v0, this.layer_idx);
    const p = this.training ? this.config.attn_pdrop : 0;
    const out = this.c_proj.forward(sdpaAttention(q, k, v, mask, this.scale, p));
    return F.dropout(out, this.config.resid_pdrop, this.training);
  }
}

export class GPT2MLP extends Module {
  c_fc: Conv1D;
  c_proj: Conv1D;
  private readonly act: (x: Tensor) => Tensor;

  constructor(
    readonly config: GPT2Config,
    factory: FactoryOptions,
  ) {
    super();
    const inner = config.n_inner ?? 4 * config.n_embd;
    this.c_fc = new Conv1D(inner, config.n_embd, factory);
    this.c_proj = new Conv1D(config.n_embd, inner, factory);
    this.act = get_activation(config.activation_function);
  }

  override forward(x: Tensor): Tensor {
    return F.dropout(this.c_proj.forward(this.act(this.c_fc.forward(x))), this.config.resid_pdrop, this.training);
  }
}

export class GPT2Block extends Module {
  ln_1: LayerNorm;
  attn: GPT2Attention;
  ln_2: LayerNorm;
  mlp: GPT2MLP;

  constructor(config: GPT2Config, layer_idx: number, factory: FactoryOptions) {
    super();
    this.ln_1 = new LayerNorm(config.n_embd, { eps: config.layer_norm_epsilon, ...factory });
    this.attn = new GPT2Attention(config, layer_idx, factory);
    this.ln_2 = new LayerNorm(config.n_embd, { eps: config.layer_norm_epsilon, ...factory });
    this.mlp = new GPT2MLP(config, factory);
  }

  // In a scope, as LlamaDecoderLayer: the block's intermediates go when it returns, the attention's
  // before the MLP runs.
  override forward(x: Tensor, inputs: BlockInputs): Tensor {
    return scope(() => {
      const h = scope(() => x.add(this.attn.forward(this.ln_1.forward(x), inputs)));
      return h.add(this.mlp.forward(this.ln_2.forward(h)));
    });
  }
}

export class GPT2Model extends Module {
  wte: Embedding;
  wpe: Embedding;
  h: ModuleList<GPT2Block>;
  ln_f: LayerNorm;

  constructor(
    readonly config: GPT2Config,
    factory: FactoryOptions,
  ) {
    super();
    this.wte = new Embedding(config.vocab_size, config.n_embd, factory);
    this.wpe = new Embedding(config.n_positions, config.n_embd, factory);
    this.h = new ModuleList(Array.from({ length: config.n_layer }, (_, i) => new GPT2Block(config, i, factory)));
    this.ln_f = new LayerNorm(config.n_embd, { eps: config.layer_norm_epsilon, ...factory });
  }

  override forward(input_ids: Tensor | null, opts: CausalLMForwardOptions = {}): BaseModelOutputWithPast {
    const { inputs_embeds, cache, past_len, position_ids } = startDecoder(this.wte, input_ids, opts, this.config.use_cache);
    if (past_len + inputs_embeds.size(1) > this.config.n_positions) {
      throw new Error(
        `GPT-2 forward: ${past_len + inputs_embeds.size(1)} positions (${past_len} cached + ${inputs_embeds.size(1)} new) exceed n_positions = ${this.config.n_positions}`,
      );
    }
    const mask = causalAttentionMask({
      attention_mask: opts.attention_mask ?? null,
      q_len: inputs_embeds.size(1),
      past_len,
      dtype: inputs_embeds.dtype,
      device: inputs_embeds.device,
    });
    let h = F.dropout(inputs_embeds.add(this.wpe.forward(position_ids)), this.config.embd_pdrop, this.training);
    for (const block of this.h) h = block.forward(h, { mask, past_key_values: cache });
    return new BaseModelOutputWithPast(this.ln_f.forward(h), cache);
  }
}

export class GPT2LMHeadModel extends PreTrainedModel<GPT2Config> {
  static override config_class: new (d: Record<string, unknown>) => GPT2Config = GPT2Config;
  static override base_model_prefix = "transformer";
  // Causal-mask buffers of old checkpoints.
  static override _keys_to_ignore_on_load_unexpected = [/\.attn\.(masked_)?bias$/];
  transformer: GPT2Model;
  lm_head: Linear;

  constructor(config: GPT2Config, factory: FactoryOptions = {}) {
    super(config);
    this.transformer = new GPT2Model(config, factory);
    this.lm_head = new Linear(config.n_embd, config.vocab_size, { bias: false, ...factory });
  }

  override get_input_embeddings(): Embedding {
    return this.transformer.wte;
  }

  override get_output_embeddings(): Linear {
    return this.lm_head;
  }

  /** HF's scheme: Conv1D like Linear, and residual projections scaled by 1/√(2·n_layer). */
  override _init_weights(module: Module): void {
    super._init_weights(module);
    const std = this.config.initializer_range;
    if (module instanceof Conv1D) {
      torch.nn.init.normal_(module.weight, 0, std);
      torch.nn.init.zeros_(module.bias);
    }
    if (module instanceof GPT2Attention || module instanceof GPT2MLP) {
      torch.nn.init.normal_(module.c_proj.weight, 0, std / Math.sqrt(2 * this.config.n_layer));
    }
  }

  override forward(input_ids: Tensor | null, opts: CausalLMForwardOptions = {}): CausalLMOutputWithPast {
    const out = this.transformer.forward(input_ids, opts);
    const logits = this.lm_head.forward(out.last_hidden_state);
    const loss = opts.labels ? ForCausalLMLoss(logits, opts.labels, this.config.vocab_size) : null;
    return new CausalLMOutputWithPast(loss, logits, out.past_key_values);
  }
}
