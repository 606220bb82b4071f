// Model profile: the shapes, parameter counts and FLOPs of a decoder-only transformer, read from an HF
// `config.json` (or a preset). The planner reasons only about this profile, never about a model class.

/** A gated MLP (GLU: gate, up and down matrices, act(gate)·up) or a plain one (up, act, down). */
export type MlpKind = "gated" | "plain";

export interface ModelProfile {
  name: string;
  family: "llama" | "mistral" | "qwen2" | "baichuan" | "gpt2" | "nemotron";
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  ffn: number;
  vocab: number;
  mlp: MlpKind;
  /** The MLP's activation as the config names it (silu, gelu_new, relu2, ...). */
  activation: string;
  tiedEmbeddings: boolean;
  /** Learned absolute position embeddings (GPT-2); 0 for rotary or ALiBi models. */
  positionEmbeddings: number;
  /** GPT-2 style models carry biases on every linear layer and LayerNorm (not RMSNorm). */
  linearBias: boolean;
  /** Qwen2 has biases on q/k/v only. */
  qkvBias: boolean;
  /** Dropout active in training (GPT-2, Megatron GPT): adds the dropout masks to the activations. */
  dropout: boolean;
  /** Baichuan2's z-loss (a squared max-logit term) is on: two more per-token reductions under TP. */
  zLoss?: boolean;
}

/** Parameters of one decoder layer, and how many of them are GEMM weights (what FLOPs count). */
export interface LayerParams {
  total: number;
  matmul: number;
}

export function layerParams(m: ModelProfile): LayerParams {
  const q = m.heads * m.headDim;
  const kv = m.kvHeads * m.headDim;
  const attn = m.hidden * (q + 2 * kv) + q * m.hidden;
  const mlp = (m.mlp === "gated" ? 3 : 2) * m.hidden * m.ffn;
  const matmul = attn + mlp;
  const normParams = m.linearBias ? 2 * m.hidden : m.hidden; // LayerNorm has a bias, RMSNorm does not
  let bias = 0;
  if (m.linearBias) bias = q + 2 * kv + m.hidden + (m.mlp === "gated" ? 2 : 1) * m.ffn + m.hidden;
  else if (m.qkvBias) bias = q + 2 * kv;
  return { total: matmul + bias + 2 * normParams, matmul };
}

/** Parameters of one layer that tensor parallelism replicates: norms, and the biases added after a row-parallel sum. */
export function layerReplicatedParams(m: ModelProfile): number {
  const normParams = m.linearBias ? 2 * m.hidden : m.hidden;
  return 2 * normParams + (m.linearBias ? 2 * m.hidden : 0);
}

export function embeddingParams(m: ModelProfile): number {
  return m.vocab * m.hidden + m.positionEmbeddings * m.hidden;
}

/** The output projection's parameters: zero when it shares the input embedding. */
export function headParams(m: ModelProfile): number {
  return m.tiedEmbeddings ? 0 : m.vocab * m.hidden;
}

export function finalNormParams(m: ModelProfile): number {
  return m.linearBias ? 2 * m.hidden : m.hidden;
}

/** Total parameters, as HF's `model.num_parameters()` counts them (tied weights once). */
export function totalParams(m: ModelProfile): number {
  return m.layers * layerParams(m).total + embeddingParams(m) + headParams(m) + finalNormParams(m);
}

/**
 * Forward FLOPs of one layer per token at sequence length s: 2 per GEMM weight, plus QKᵀ and
 * attention·V over the whole s×s score matrix (2·s·q each), which is what an unfused kernel executes;
 * a causal model needs only the lower half (`causalAttentionShare`), which is all fused causal kernels
 * execute and all that model FLOPs count.
 */
export function layerForwardFlopsPerToken(m: ModelProfile, seq: number): { gemm: number; attention: number } {
  return { gemm: 2 * layerParams(m).matmul, attention: 4 * seq * m.heads * m.headDim };
}

/** The share of the s×s score matrix a causal decoder needs (the mask's lower triangle). */
export const causalAttentionShare = 0.5;

/** Forward FLOPs per token of the output projection (the logits GEMM; tied or not, it runs). */
export function headForwardFlopsPerToken(m: ModelProfile): number {
  return 2 * m.vocab * m.hidden;
}

/**
 * Model FLOPs per token of one training step (forward + backward = 3 forwards, no recompute), with
 * causal attention counted once, over the lower half of the scores: 6N + 6·L·q·s. Executed FLOPs
 * (cost.ts) add the masked half where a kernel computes it, and recompute.
 */
export function trainingFlopsPerToken(m: ModelProfile, seq: number): number {
  const layer = layerForwardFlopsPerToken(m, seq);
  return 3 * (m.layers * (layer.gemm + causalAttentionShare * layer.attention) + headForwardFlopsPerToken(m));
}

type Config = Record<string, unknown>;

function num(config: Config, keys: string[], what: string, fallback?: number): number {
  for (const key of keys) {
    const value = config[key];
    if (typeof value === "number" && Number.isFinite(value)) return value;
  }
  if (fallback !== undefined) return fallback;
  throw new Error(`config.json: missing numeric '${keys[0]}' (${what})`);
}

const families: Record<string, ModelProfile["family"]> = {
  llama: "llama",
  mistral: "mistral",
  qwen2: "qwen2",
  baichuan: "baichuan",
  gpt2: "gpt2",
  nemotron: "nemotron",
};

/** Families whose HF MLP is gated whatever the activation (LlamaMLP: down(act(gate(x)) · up(x))). */
const GATED_FAMILIES = new Set<ModelProfile["family"]>(["llama", "mistral", "qwen2", "baichuan"]);
/** Activation names that are a GLU themselves (Megatron-style configs): gated in any family. */
const GLU_ACTIVATIONS = new Set(["swiglu", "geglu", "reglu"]);
/** Activations HF's ACT2FN (and Megatron) know, element-wise: with them a family's MLP keeps its shape. */
const ACTIVATIONS = new Set([
  "silu",
  "swish",
  "gelu",
  "gelu_new",
  "gelu_fast",
  "gelu_pytorch_tanh",
  "gelu_python",
  "gelu_accurate",
  "quick_gelu",
  "relu",
  "relu2",
  "squared_relu",
  "relu6",
  "leaky_relu",
  "tanh",
  "sigmoid",
  "mish",
  "linear",
]);

/**
 * The MLP's shape from the config's activation: a GLU activation or a gated family (Llama, Mistral,
 * Qwen2, Baichuan2: three matrices whatever `hidden_act` says) is gated; GPT-2 and Nemotron
 * (relu2, i.e. squared ReLU) have two. An activation neither HF nor Megatron knows is an error, never
 * a guess.
 */
export function mlpKind(family: ModelProfile["family"], activation: string, key: string): MlpKind {
  const act = activation.toLowerCase();
  if (GLU_ACTIVATIONS.has(act)) return "gated";
  if (!ACTIVATIONS.has(act)) {
    throw new Error(
      `config.json: unknown '${key}' ${JSON.stringify(activation)} (known: ${[...GLU_ACTIVATIONS, ...ACTIVATIONS].join(", ")})`,
    );
  }
  return GATED_FAMILIES.has(family) ? "gated" : "plain";
}

function positive(value: number, key: string): number {
  if (!Number.isInteger(value) || value <= 0) throw new Error(`config.json: '${key}' must be a positive integer, got ${value}`);
  return value;
}

/** Reads an HF `config.json` object of a supported family. */
export function profileFromConfig(config: Config, name = "model"): ModelProfile {
  const type = typeof config.model_type === "string" ? config.model_type : undefined;
  const family = type === undefined ? undefined : families[type];
  if (family === undefined) {
    throw new Error(`config.json: unsupported model_type '${String(type)}' (supported: ${Object.keys(families).join(", ")})`);
  }
  if (family === "gpt2") {
    const hidden = positive(num(config, ["n_embd"], "hidden size"), "n_embd");
    const heads = positive(num(config, ["n_head"], "attention heads"), "n_head");
    const inner = config.n_inner;
    const dropouts = ["resid_pdrop", "embd_pdrop", "attn_pdrop"].map((k) => num(config, [k], "dropout", 0.1));
    const activation = typeof config.activation_function === "string" ? config.activation_function : "gelu_new";
    return {
      name,
      family,
      hidden,
      heads,
      kvHeads: heads,
      headDim: hidden / heads,
      layers: positive(num(config, ["n_layer"], "layers"), "n_layer"),
      ffn: typeof inner === "number" ? inner : 4 * hidden,
      vocab: positive(num(config, ["vocab_size"], "vocabulary"), "vocab_size"),
      mlp: mlpKind(family, activation, "activation_function"),
      activation,
      tiedEmbeddings: config.tie_word_embeddings !== false,
      positionEmbeddings: positive(num(config, ["n_positions"], "positions"), "n_positions"),
      linearBias: true,
      qkvBias: true,
      dropout: dropouts.some((p) => p > 0),
    };
  }
  const hidden = positive(num(config, ["hidden_size"], "hidden size"), "hidden_size");
  const heads = positive(num(config, ["num_attention_heads"], "attention heads"), "num_attention_heads");
  const kvHeads = positive(num(config, ["num_key_value_heads"], "key/value heads", heads), "num_key_value_heads");
  if (heads % kvHeads !== 0)
    throw new Error(`config.json: num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`);
  const activation = typeof config.hidden_act === "string" ? config.hidden_act : family === "nemotron" ? "relu2" : "silu";
  return {
    name,
    family,
    hidden,
    heads,
    kvHeads,
    headDim: num(config, ["head_dim"], "head dimension", hidden / heads),
    layers: positive(num(config, ["num_hidden_layers"], "layers"), "num_hidden_layers"),
    ffn: positive(num(config, ["intermediate_size"], "MLP size"), "intermediate_size"),
    vocab: positive(num(config, ["vocab_size"], "vocabulary"), "vocab_size"),
    mlp: mlpKind(family, activation, "hidden_act"),
    activation,
    tiedEmbeddings: config.tie_word_embeddings === true,
    positionEmbeddings: 0,
    linearBias: false,
    qkvBias: family === "qwen2",
    dropout: num(config, ["attention_dropout"], "dropout", 0) > 0,
    zLoss: family === "baichuan" && num(config, ["z_loss_weight"], "z-loss weight", 0) > 0,
  };
}

/** A Megatron-LM GPT (the SC'21 models): GPT-2 layout, 4h MLP, tied embeddings, dropout on. */
export function megatronGpt(spec: { layers: number; hidden: number; heads: number; vocab: number; seq: number }): ModelProfile {
  return profileFromConfig(
    { model_type: "gpt2", n_embd: spec.hidden, n_head: spec.heads, n_layer: spec.layers, vocab_size: spec.vocab, n_positions: spec.seq },
    `gpt-${spec.layers}x${spec.hidden}`,
  );
}
