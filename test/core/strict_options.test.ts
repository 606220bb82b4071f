// Strict options: every hand-written public function, constructor and method with a trailing options
// object (Python's keyword arguments) rejects a name it does not declare with Python's TypeError,
// `<qualname>() got an unexpected keyword argument '<name>'`, and still runs with valid options.
// Where Python has the same callable, its message is the expected one (one Python run for all).
// A self-check enumerates torch.nn's modules, torch.nn.functional, torch.optim and its schedulers, so
// a new export with options cannot be left out of the table unnoticed.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { torch } from "../../src/index.js";
import type { Tensor } from "../../src/torch/tensor.js";
import { NotImplementedError, RuntimeError } from "../../src/torch/errors.js";
import { Module } from "../../src/torch/nn/index.js";
import { Optimizer } from "../../src/torch/optim/index.js";
import { LRScheduler } from "../../src/torch/optim/lr_scheduler.js";
import {
  AutoConfig,
  AutoModelForCausalLM,
  AutoTokenizer,
  LlamaConfig,
  LlamaForCausalLM,
  LoraConfig,
  PeftModel,
  get_peft_model,
} from "../../src/transformers/index.js";
import { repoRoot } from "../helpers/oracle.js";
import { testAgainstPython } from "../helpers/python_cases.js";

const { nn, optim } = torch;
const F = nn.functional;
const dist = torch.distributed;
const tmp = mkdtempSync(path.join(os.tmpdir(), "tessera-strict-options-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

type Opts = Record<string, unknown>;

interface Entry {
  /** Python's qualified name, as the message gives it. */
  name: string;
  /** The exported symbol the entry covers (for the self-check), when it is one. */
  covers?: string;
  call: (opts: Opts) => unknown;
  /** Valid options for the call that must still work; null where a valid call cannot run here (why in `because`). */
  valid: Opts | null;
  because?: string;
  /** Python that raises the TypeError for `**kw` (kw = the misspelt option), where Python has this callable. */
  py?: string;
}

const MISSPELT = "misspelt_kw";
const params = (): Tensor[] => [new nn.Parameter(torch.ones(2))];
const sgd = (): InstanceType<typeof optim.SGD> => new optim.SGD(params(), { lr: 0.1 });
const leafLoss = (): [Tensor, Tensor] => {
  const x = torch.ones(2, { requires_grad: true });
  return [x, x.mul(2).sum()];
};

// A one-rank gloo group, made by init_process_group's own valid call, for the collectives' valid calls.
function group(opts: Opts = {}): void {
  if (!dist.is_initialized())
    dist.init_process_group({ backend: "gloo", store: new dist.FileStore(path.join(tmp, "store"), 1), rank: 0, world_size: 1, ...opts });
}
function inGroup<T>(fn: () => T): T {
  group();
  return fn();
}

const tinyConfig = (): InstanceType<typeof LlamaConfig> =>
  new LlamaConfig({
    vocab_size: 32,
    hidden_size: 16,
    intermediate_size: 32,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    max_position_embeddings: 16,
  });
let saved: string | null = null;
function savedModel(): string {
  if (saved === null) {
    saved = path.join(tmp, "model");
    LlamaForCausalLM.from_config(tinyConfig()).save_pretrained(saved);
  }
  return saved;
}
let adapter: string | null = null;
function savedAdapter(): string {
  if (adapter === null) {
    adapter = path.join(tmp, "adapter");
    get_peft_model(LlamaForCausalLM.from_config(tinyConfig()), new LoraConfig({ target_modules: ["q_proj"] })).save_pretrained(adapter);
  }
  return adapter;
}
const tokenizer = (): ReturnType<typeof AutoTokenizer.from_pretrained> =>
  AutoTokenizer.from_pretrained(path.join(repoRoot, "examples/finetune/config"));

const entries: Entry[] = [
  // torch.nn modules
  {
    name: "Linear.__init__",
    covers: "nn.Linear",
    call: (o) => new nn.Linear(3, 2, o),
    valid: { bias: false },
    py: "torch.nn.Linear(3, 2, **kw)",
  },
  {
    name: "Embedding.__init__",
    covers: "nn.Embedding",
    call: (o) => new nn.Embedding(4, 2, o),
    valid: { padding_idx: 0, max_norm: 1 },
    py: "torch.nn.Embedding(4, 2, **kw)",
  },
  {
    name: "LayerNorm.__init__",
    covers: "nn.LayerNorm",
    call: (o) => new nn.LayerNorm(2, o),
    valid: { eps: 1e-6, bias: false },
    py: "torch.nn.LayerNorm(2, **kw)",
  },
  {
    name: "RMSNorm.__init__",
    covers: "nn.RMSNorm",
    call: (o) => new nn.RMSNorm(2, o),
    valid: { eps: 1e-6 },
    py: "torch.nn.RMSNorm(2, **kw)",
  },
  { name: "GELU.__init__", covers: "nn.GELU", call: (o) => new nn.GELU(o), valid: { approximate: "tanh" }, py: "torch.nn.GELU(**kw)" },
  {
    name: "CrossEntropyLoss.__init__",
    covers: "nn.CrossEntropyLoss",
    call: (o) => new nn.CrossEntropyLoss(o),
    valid: { ignore_index: 0, label_smoothing: 0.1 },
    py: "torch.nn.CrossEntropyLoss(**kw)",
  },
  // Python's MSELoss passes its keyword arguments on to _Loss.__init__, which names itself.
  {
    name: "_Loss.__init__",
    covers: "nn.MSELoss",
    call: (o) => new nn.MSELoss(o),
    valid: { reduction: "sum" },
    py: "torch.nn.MSELoss(**kw)",
  },
  {
    name: "Module.zero_grad",
    call: (o) => new nn.Linear(2, 2).zero_grad(o),
    valid: { set_to_none: false },
    py: "torch.nn.Linear(2, 2).zero_grad(**kw)",
  },
  { name: "Module.state_dict", call: (o) => new nn.Linear(2, 2).state_dict(o), valid: { prefix: "m.", keep_vars: true } },
  {
    name: "Module.register_forward_hook",
    call: (o) => new nn.Linear(2, 2).register_forward_hook(() => undefined, o),
    valid: { prepend: true },
  },
  {
    name: "Module.register_forward_pre_hook",
    call: (o) => new nn.Linear(2, 2).register_forward_pre_hook(() => undefined, o),
    valid: { prepend: true },
  },
  { name: "Module.to", call: (o) => new nn.Linear(2, 2).to(o), valid: { dtype: torch.float64 } },
  // torch.nn.functional
  {
    name: "embedding",
    covers: "nn.functional.embedding",
    call: (o) => F.embedding(torch.tensor([0, 1], { dtype: torch.int64 }), torch.ones(3, 2), o),
    valid: { padding_idx: 0 },
    py: "F.embedding(torch.tensor([0, 1]), torch.ones(3, 2), **kw)",
  },
  {
    name: "gelu",
    covers: "nn.functional.gelu",
    call: (o) => F.gelu(torch.ones(2), o),
    valid: { approximate: "tanh" },
    py: "F.gelu(torch.ones(2), **kw)",
  },
  {
    name: "softmax",
    covers: "nn.functional.softmax",
    call: (o) => F.softmax(torch.ones(2), 0, o),
    valid: { dtype: torch.float64 },
    py: "F.softmax(torch.ones(2), 0, **kw)",
  },
  {
    name: "log_softmax",
    covers: "nn.functional.log_softmax",
    call: (o) => F.log_softmax(torch.ones(2), 0, o),
    valid: { dtype: torch.float64 },
    py: "F.log_softmax(torch.ones(2), 0, **kw)",
  },
  {
    name: "cross_entropy",
    covers: "nn.functional.cross_entropy",
    call: (o) => F.cross_entropy(torch.ones(2, 3), torch.tensor([0, 2], { dtype: torch.int64 }), o),
    valid: { ignore_index: 0, reduction: "sum" },
    py: "F.cross_entropy(torch.ones(2, 3), torch.tensor([0, 2]), **kw)",
  },
  {
    name: "nll_loss",
    covers: "nn.functional.nll_loss",
    call: (o) => F.nll_loss(torch.ones(2, 3), torch.tensor([0, 2], { dtype: torch.int64 }), o),
    valid: { reduction: "sum" },
    py: "F.nll_loss(torch.ones(2, 3), torch.tensor([0, 2]), **kw)",
  },
  {
    name: "mse_loss",
    covers: "nn.functional.mse_loss",
    call: (o) => F.mse_loss(torch.ones(2), torch.zeros(2), o),
    valid: { reduction: "sum" },
    py: "F.mse_loss(torch.ones(2), torch.zeros(2), **kw)",
  },
  {
    name: "scaled_dot_product_attention",
    covers: "nn.functional.scaled_dot_product_attention",
    call: (o) => F.scaled_dot_product_attention(torch.ones(1, 2, 2), torch.ones(1, 2, 2), torch.ones(1, 2, 2), o),
    valid: { is_causal: true },
  },
  // torch.nn.init
  {
    name: "uniform_",
    call: (o) => nn.init.uniform_(torch.empty(2), 0, 1, o),
    valid: { generator: null },
    py: "torch.nn.init.uniform_(torch.empty(2), 0, 1, **kw)",
  },
  {
    name: "normal_",
    call: (o) => nn.init.normal_(torch.empty(2), 0, 1, o),
    valid: { generator: null },
    py: "torch.nn.init.normal_(torch.empty(2), 0, 1, **kw)",
  },
  {
    name: "kaiming_uniform_",
    call: (o) => nn.init.kaiming_uniform_(torch.empty(2, 2), o),
    valid: { a: 1, mode: "fan_out" },
    py: "torch.nn.init.kaiming_uniform_(torch.empty(2, 2), **kw)",
  },
  {
    name: "kaiming_normal_",
    call: (o) => nn.init.kaiming_normal_(torch.empty(2, 2), o),
    valid: { nonlinearity: "relu" },
    py: "torch.nn.init.kaiming_normal_(torch.empty(2, 2), **kw)",
  },
  {
    name: "xavier_uniform_",
    call: (o) => nn.init.xavier_uniform_(torch.empty(2, 2), 1, o),
    valid: { generator: null },
    py: "torch.nn.init.xavier_uniform_(torch.empty(2, 2), 1, **kw)",
  },
  {
    name: "xavier_normal_",
    call: (o) => nn.init.xavier_normal_(torch.empty(2, 2), 1, o),
    valid: { generator: null },
    py: "torch.nn.init.xavier_normal_(torch.empty(2, 2), 1, **kw)",
  },
  {
    name: "trunc_normal_",
    call: (o) => nn.init.trunc_normal_(torch.empty(2), o),
    valid: { std: 0.5 },
    py: "torch.nn.init.trunc_normal_(torch.empty(2), **kw)",
  },
  // torch.optim
  {
    name: "SGD.__init__",
    covers: "optim.SGD",
    call: (o) => new optim.SGD(params(), o),
    valid: { lr: 0.1, momentum: 0.9, nesterov: true },
    py: "torch.optim.SGD([torch.nn.Parameter(torch.ones(2))], **kw)",
  },
  {
    name: "Adam.__init__",
    covers: "optim.Adam",
    call: (o) => new optim.Adam(params(), o),
    valid: { amsgrad: true, capturable: true },
    py: "torch.optim.Adam([torch.nn.Parameter(torch.ones(2))], **kw)",
  },
  {
    name: "AdamW.__init__",
    covers: "optim.AdamW",
    call: (o) => new optim.AdamW(params(), o),
    valid: { fused: true, maximize: true },
    py: "torch.optim.AdamW([torch.nn.Parameter(torch.ones(2))], **kw)",
  },
  {
    name: "Optimizer.zero_grad",
    call: (o) => sgd().zero_grad(o),
    valid: { set_to_none: false },
    py: "torch.optim.SGD([torch.nn.Parameter(torch.ones(2))]).zero_grad(**kw)",
  },
  {
    name: "LinearLR.__init__",
    covers: "optim.lr_scheduler.LinearLR",
    call: (o) => new optim.lr_scheduler.LinearLR(sgd(), o),
    valid: { start_factor: 0.5, total_iters: 3 },
    py: "torch.optim.lr_scheduler.LinearLR(torch.optim.SGD([torch.nn.Parameter(torch.ones(2))]), **kw)",
  },
  // torch.amp, torch.autocast
  {
    name: "GradScaler.__init__",
    call: (o) => new torch.amp.GradScaler("cpu", o),
    valid: { init_scale: 2 },
    py: "torch.amp.GradScaler('cpu', **kw)",
  },
  {
    name: "autocast.__init__",
    call: (o) => torch.autocast("cpu", o, () => 1),
    valid: { dtype: torch.bfloat16 },
    py: "torch.autocast('cpu', **kw)",
  },
  // torch.utils
  {
    name: "DataLoader.__init__",
    call: (o) => new torch.utils.data.DataLoader([1, 2], o),
    valid: { batch_size: 2, drop_last: true },
    py: "torch.utils.data.DataLoader([1, 2], **kw)",
  },
  {
    name: "RandomSampler.__init__",
    call: (o) => new torch.utils.data.RandomSampler([1, 2], o),
    valid: { replacement: true },
    py: "torch.utils.data.RandomSampler([1, 2], **kw)",
  },
  {
    name: "DistributedSampler.__init__",
    call: (o) => new torch.utils.data.DistributedSampler([1, 2], o),
    valid: { num_replicas: 1, rank: 0 },
    py: "torch.utils.data.DistributedSampler([1, 2], num_replicas=1, rank=0, **kw)",
  },
  {
    name: "SummaryWriter.__init__",
    call: (o) => new torch.utils.tensorboard.SummaryWriter(path.join(tmp, "tb"), o).close(),
    valid: { flush_secs: 1 },
  },
  // torch: creation, tensors, autograd
  {
    name: "tensor",
    call: (o) => torch.tensor([1, 2], o),
    valid: { dtype: torch.float64, requires_grad: true },
    py: "torch.tensor([1, 2], **kw)",
  },
  { name: "as_tensor", call: (o) => torch.as_tensor([1, 2], o), valid: { dtype: torch.float64 } },
  { name: "full", call: (o) => torch.full([2], 1, o), valid: { dtype: torch.float64 } },
  { name: "to", call: (o) => torch.ones(2).to(o), valid: { dtype: torch.float64, copy: true } },
  {
    name: "Tensor.backward",
    call: (o) => leafLoss()[1].backward(null, o),
    valid: { retain_graph: true },
    py: "(torch.ones(2, requires_grad=True) * 2).sum().backward(**kw)",
  },
  {
    name: "grad",
    call: (o) => torch.autograd.grad(leafLoss()[1], [torch.ones(1)], o),
    valid: null,
    because: "the misspelt name is refused before the inputs are looked at",
  },
  { name: "backward", call: (o) => torch.autograd.backward(leafLoss()[1], o), valid: { retain_graph: true } },
  // torch.serialization
  {
    name: "load",
    call: (o) => {
      const f = path.join(tmp, "t.pt");
      torch.save(torch.ones(2), f);
      return torch.load(f, o);
    },
    valid: { map_location: "cpu" },
  },
  {
    name: "split_torch_state_dict_into_shards",
    call: (o) => torch.serialization.split_torch_state_dict_into_shards({ w: torch.ones(2) }, o),
    valid: { max_shard_size: "1GB" },
  },
  {
    name: "save_torch_state_dict",
    call: (o) => torch.serialization.save_torch_state_dict({ w: torch.ones(2) }, tmp, o),
    valid: { metadata: { format: "pt" } },
  },
  // torch.distributed
  // First of the group's users: its misspelt call runs before the group exists, its valid call makes it.
  { name: "init_process_group", call: (o) => group(o), valid: {} },
  {
    name: "DistributedDataParallel.__init__",
    covers: "nn.parallel.DistributedDataParallel",
    call: (o) => inGroup(() => new nn.parallel.DistributedDataParallel(new nn.Linear(2, 2), o)),
    valid: { bucket_cap_mb: 1 },
  },
  { name: "new_group", call: (o) => inGroup(() => dist.new_group([0], o)), valid: { backend: "gloo" } },
  { name: "all_reduce", call: (o) => inGroup(() => dist.all_reduce(torch.ones(2), o)), valid: { op: dist.ReduceOp.SUM } },
  { name: "broadcast", call: (o) => inGroup(() => dist.broadcast(torch.ones(2), 0, o)), valid: {} },
  { name: "all_gather", call: (o) => inGroup(() => dist.all_gather([torch.empty(2)], torch.ones(2), o)), valid: {} },
  { name: "all_gather_into_tensor", call: (o) => inGroup(() => dist.all_gather_into_tensor(torch.empty(2), torch.ones(2), o)), valid: {} },
  {
    name: "reduce_scatter_tensor",
    call: (o) => inGroup(() => dist.reduce_scatter_tensor(torch.empty(2), torch.ones(2), o)),
    valid: { op: dist.ReduceOp.SUM },
  },
  { name: "all_to_all_single", call: (o) => inGroup(() => dist.all_to_all_single(torch.empty(2), torch.ones(2), o)), valid: {} },
  { name: "barrier", call: (o) => inGroup(() => dist.barrier(o)), valid: {} },
  ...(["isend", "irecv", "send", "recv"] as const).map(
    (op): Entry => ({
      name: op,
      call: (o) => inGroup(() => dist[op](torch.ones(2), 0, o)),
      valid: null,
      because: "a point-to-point op needs a second rank",
    }),
  ),
  {
    name: "TCPStore.__init__",
    call: (o) => new dist.TCPStore("127.0.0.1", 0, o),
    valid: { is_master: true, world_size: 1, wait_for_workers: false },
  },
  { name: "DeviceMesh.__init__", call: (o) => inGroup(() => new dist.DeviceMesh("cpu", [0], o)), valid: { mesh_dim_names: ["dp"] } },
  { name: "init_device_mesh", call: (o) => inGroup(() => dist.init_device_mesh("cpu", [1], o)), valid: { mesh_dim_names: ["dp"] } },
  {
    name: "enable_advanced_parallelization",
    call: (o) => torch.moreh.option.enable_advanced_parallelization(o),
    valid: null,
    because: "a valid call makes this process a job's rank",
  },
  // transformers
  { name: "LlamaForCausalLM.from_config", call: (o) => LlamaForCausalLM.from_config(tinyConfig(), o), valid: { dtype: torch.float64 } },
  {
    name: "LlamaForCausalLM.from_pretrained",
    call: (o) => LlamaForCausalLM.from_pretrained(savedModel(), o),
    valid: { torch_dtype: "auto" },
  },
  {
    name: "AutoModelForCausalLM.from_pretrained",
    call: (o) => AutoModelForCausalLM.from_pretrained(savedModel(), o),
    valid: { dtype: torch.float32 },
  },
  { name: "AutoConfig.from_pretrained", call: (o) => AutoConfig.from_pretrained(savedModel(), o), valid: { local_files_only: true } },
  { name: "AutoModelForCausalLM.from_config", call: (o) => AutoModelForCausalLM.from_config(tinyConfig(), o), valid: { device: "cpu" } },
  {
    name: "PreTrainedModel.save_pretrained",
    call: (o) => LlamaForCausalLM.from_config(tinyConfig()).save_pretrained(path.join(tmp, "saved"), o),
    valid: { safe_serialization: true },
  },
  // Every family's decoder starts in startDecoder, which checks the causal LM's forward options.
  {
    name: "forward",
    call: (o) => LlamaForCausalLM.from_config(tinyConfig()).forward(torch.tensor([[1, 2]], { dtype: torch.int64 }), o),
    valid: { use_cache: false },
  },
  {
    name: "generate",
    call: (o) => LlamaForCausalLM.from_config(tinyConfig()).generate(torch.tensor([[1, 2]], { dtype: torch.int64 }), o),
    valid: { max_new_tokens: 2, do_sample: false },
  },
  { name: "PreTrainedTokenizer.__call__", call: (o) => tokenizer()("hi", o), valid: { add_special_tokens: false } },
  { name: "PreTrainedTokenizer.decode", call: (o) => tokenizer().decode([1, 2], o), valid: { skip_special_tokens: true } },
  { name: "PreTrainedTokenizer.batch_decode", call: (o) => tokenizer().batch_decode([[1, 2]], o), valid: { skip_special_tokens: true } },
  {
    name: "PreTrainedTokenizer.convert_ids_to_tokens",
    call: (o) => tokenizer().convert_ids_to_tokens([1, 2], o),
    valid: { skip_special_tokens: true },
  },
  {
    name: "LoraConfig.__init__",
    call: (o) => new LoraConfig(o),
    valid: { r: 4, use_dora: false },
    py: "__import__('peft').LoraConfig(**kw)",
  },
  {
    name: "PeftModel.from_pretrained",
    call: (o) => PeftModel.from_pretrained(LlamaForCausalLM.from_config(tinyConfig()), savedAdapter(), o),
    valid: { is_trainable: true },
  },
];

// Exports that take no options object (positional arguments only), so the table need not cover them.
const NO_OPTIONS = new Set([
  "nn.Module",
  "nn.Sequential",
  "nn.ModuleList",
  "nn.ModuleDict",
  "nn.ReLU",
  "nn.SiLU",
  "nn.Tanh",
  "nn.Dropout",
  "nn.functional.reductionEnum",
  "nn.functional.linear",
  "nn.functional.dropout",
  "nn.functional.silu",
  "nn.functional.relu",
  "nn.functional.tanh",
  "nn.functional.layer_norm",
  "nn.functional.rms_norm",
  "nn.functional.pad",
  "optim.Optimizer",
  "optim.lr_scheduler.LRScheduler",
  "optim.lr_scheduler.LambdaLR",
  "optim.lr_scheduler.StepLR",
  "optim.lr_scheduler.CosineAnnealingLR",
  "optim.lr_scheduler.SequentialLR",
]);

const expectedMessage = (name: string): string => `${name}() got an unexpected keyword argument '${MISSPELT}'`;

testAgainstPython(
  entries.map((e) => ({
    name: e.name,
    py:
      e.py === undefined
        ? "result = None"
        : `kw = {${JSON.stringify(MISSPELT)}: 1}\ntry:\n    ${e.py}\n    result = 'no error'\nexcept TypeError as e:\n    result = str(e)`,
    check: (python) => {
      const expected = python === null ? expectedMessage(e.name) : (python as string);
      assert.equal(expected, expectedMessage(e.name), `Python's message for ${e.name}`);
      assert.throws(
        () => e.call({ ...(e.valid ?? {}), [MISSPELT]: 1 }),
        (err: Error) => err instanceof TypeError && err.message === expected,
      );
      if (e.valid !== null) e.call(e.valid);
      else assert.ok(e.because, `${e.name}: no valid call and no reason`);
    },
  })),
  {},
  (c) => `${c.name}: a misspelt option is Python's TypeError; valid options still work`,
);

test("the table covers every export of torch.nn (modules), nn.functional, optim and optim.lr_scheduler that takes options", () => {
  const covered = new Set(entries.flatMap((e) => (e.covers === undefined ? [] : [e.covers])));
  const exported: string[] = [];
  const scan = (prefix: string, ns: object, keep: (v: unknown) => boolean): void => {
    for (const [k, v] of Object.entries(ns)) if (keep(v)) exported.push(`${prefix}.${k}`);
  };
  const isClassOf =
    (base: abstract new (...a: never[]) => unknown) =>
    (v: unknown): boolean =>
      typeof v === "function" && (v === base || v.prototype instanceof base);
  scan("nn", nn, isClassOf(Module));
  scan("nn.parallel", nn.parallel, isClassOf(Module));
  scan("nn.functional", F, (v) => typeof v === "function");
  scan("optim", optim, isClassOf(Optimizer));
  scan("optim.lr_scheduler", optim.lr_scheduler, isClassOf(LRScheduler));
  const missing = exported.filter((n) => !covered.has(n) && !NO_OPTIONS.has(n));
  assert.deepEqual(missing, [], "exports with options that the table does not cover (or add them to NO_OPTIONS if they take none)");
  const stale = [...covered, ...NO_OPTIONS].filter((n) => !exported.includes(n));
  assert.deepEqual(stale, [], "table or NO_OPTIONS names that are no longer exported");
});

test("options accepted by name but not implemented are NotImplementedError; Python's RuntimeErrors where it has them", () => {
  const p = params();
  assert.throws(
    () => new optim.AdamW(p, { differentiable: true }),
    (e: Error) => e instanceof NotImplementedError && e.message === "AdamW: differentiable=True is not supported",
  );
  assert.throws(
    () => new optim.Adam(p, { fused: false }),
    (e: Error) => e instanceof NotImplementedError && /^Adam: fused=False is not supported/.test(e.message),
  );
  assert.throws(
    () => new optim.SGD(p, { foreach: true }),
    (e: Error) => e instanceof NotImplementedError && /^SGD: foreach=True is not supported/.test(e.message),
  );
  assert.throws(
    () => new optim.AdamW(p, { fused: true, foreach: true }),
    (e: Error) => e instanceof RuntimeError && e.message === "`fused` and `foreach` cannot be `True` together.",
  );
  assert.throws(
    () => new optim.SGD(p, { fused: true, differentiable: true }),
    (e: Error) => e instanceof RuntimeError && e.message === "`fused` does not support `differentiable`",
  );
  assert.throws(
    () => new LoraConfig({ use_dora: true } as Opts),
    (e: Error) => e instanceof NotImplementedError && e.message === "LoraConfig: use_dora=true is not supported by tessera's LoRA",
  );
  assert.throws(
    () => torch.utils.checkpoint.checkpoint((t: Tensor) => t, torch.ones(1), { debug: true } as Opts),
    /Passing `context_fn` or `debug` is only supported when use_reentrant=False\./,
  );
});
