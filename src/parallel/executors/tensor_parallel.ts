// Megatron-style tensor parallelism applied to a model from outside its code, as torchtitan's
// parallelize_* functions do: a per-family plan (src/parallel/tp_plans/) names each module's style,
// this file cuts the parameters to this rank's slice and puts the communication around the modules
// (forward hooks, a replaced forward for row-parallel and vocab-parallel layers), and the family
// plan sets the per-rank head counts on the module instances.
//
//   colwise   output features split (q/k/v, gate/up; fused blocks split block by block; k/v heads
//             fewer than the ranks are replicated for compute — each replica stores a slice of its
//             head, gathered inside the replica group as the module runs, so nothing is stored twice)
//   rowwise   input features split; the partial outputs are summed (all-reduce, or reduce-scatter
//             onto sequence shards under sequence parallelism), then the bias is added
//   parallel_input   the module's input enters the split region: identity forward and gradient
//             all-reduce (f), or all-gather from sequence shards (SP), its colwise linears then
//             keeping only the shard for backward (tensor_parallel_linear.ts)
//   vocab_embedding  rows of the (padded) vocabulary split; lookups outside the slice give 0; summed
//   vocab_head       output projection over the vocabulary slice, input as parallel_input; the
//             loss is vocab-parallel (tensor_parallel_loss.ts), logits without labels gathered
//   sequence_parallel  a norm working on sequence shards: its parameters' gradients are summed
//             over the group (each rank saw part of the sequence)
//   sequence_start   under SP, the first layer's input is split into sequence shards
//
// Sequence parallelism is decided per forward at the sequence_start module: on when the plan asks
// for it and the sequence splits evenly (a one-token decoding step runs without it).
//
// Each style replaces the module's forward rather than hooking it: a module's hooks hand its inputs
// and output to whoever may keep them (Module escapes them), so the scopes the models run their
// layers in could not free them and they would wait for V8's collector. The replaced forwards run in
// scopes of their own, so that a region's intermediates (the gathered input, a row-parallel layer's
// partial sums) go as soon as it returns.
import "../../torch/_generated/tensor_methods.js";
import { cat, empty, zeros } from "../../torch/_generated/functions.js";
import { no_grad } from "../../torch/autograd/grad_mode.js";
import * as dist from "../../torch/distributed/index.js";
import type { ProcessGroup } from "../../torch/distributed/process_group.js";
import { _mark_sharded } from "../../torch/distributed/_sharding.js";
import { isKwargs } from "../../torch/_invoke.js";
import type { Module, StateDict } from "../../torch/nn/modules/module.js";
import * as F from "../../torch/nn/functional.js";
import { scope } from "../../torch/memory.js";
import { Linear } from "../../torch/nn/modules/linear.js";
import { Parameter } from "../../torch/nn/parameter.js";
import { Tensor } from "../../torch/tensor.js";
import { copyToGroup, gatherShards, reduceFromGroup, reduceScatterShards, splitShards } from "./tensor_parallel_comm.js";
import { GatheredInput, type WeightLayout } from "./tensor_parallel_linear.js";
import { gatherVocab, vocabParallelCausalLMLoss, type VocabShard } from "./tensor_parallel_loss.js";

export type { WeightLayout };

export type ParallelStyle =
  | {
      style: "colwise";
      layout?: WeightLayout;
      /** equal blocks fused along the output (q|k|v): 3 */ fused?: number;
      /** "kv": the k/v heads of grouped-query attention */ heads?: "q" | "kv";
    }
  | { style: "rowwise"; layout?: WeightLayout }
  | { style: "parallel_input" }
  | { style: "vocab_embedding" }
  | {
      style: "vocab_head";
      /** The weight the head multiplies its input by, when that is not its `weight` as it is (Baichuan2's NormHead normalises it). */
      weight?: (m: Module) => Tensor;
    }
  | { style: "sequence_parallel" }
  | { style: "sequence_start" };

/** This rank's place in the tensor-parallel group. */
export interface Placement {
  size: number;
  rank: number;
}

/** A family's plan: what torchtitan's parallelize_llama or HF's `tp_plan` say, for one model instance. */
export interface TensorParallelPlan {
  /** Module names ("*" matches one name, e.g. "model.layers.*.self_attn.q_proj") to styles. */
  modules: Record<string, ParallelStyle>;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  /** Baichuan2's z-loss weight (0 for the others). */
  zLossWeight: number;
  /** Sets the per-rank counts the family's modules read (head counts, split sizes, ALiBi slopes). */
  localize(model: Module, placement: Placement): void;
  /** The model's output rebuilt with `loss` and `logits`. */
  output(out: unknown, loss: Tensor | null, logits: Tensor): unknown;
}

export interface TensorParallelGroups {
  group: ProcessGroup;
  /** The groups of ranks holding the same k/v head, when the plan replicates k/v heads (one per rank, others null). */
  kvReplicas: ProcessGroup | null;
  sequenceParallel: boolean;
}

/** Where a sharded parameter's pieces sit in the full tensor, for every rank. */
export interface ShardSpec {
  dim: number;
  full: number[];
  local: number;
  /** Per rank: [start in the full tensor, length] pieces, concatenated in the local tensor (padding after). */
  pieces: Array<Array<[number, number]>>;
}

type Slots = Record<string, unknown>;
const slots = (m: Module): Slots => m as unknown as Slots;
type Forward = (...args: unknown[]) => unknown;

function patternRegex(pattern: string): RegExp {
  return new RegExp(
    `^${pattern
      .split(".")
      .map((p) => (p === "*" ? "[^.]+" : p.replace(/[\\^$+?()[\]{}|]/g, "\\$&")))
      .join("\\.")}$`,
  );
}

/**
 * A rank's slice of `full`: its [start, length] ranges along `dim`, concatenated, zero-padded up to
 * `local` (the vocabulary's last slice); a new tensor.
 */
export function cutSlice(full: Tensor, dim: number, ranges: Array<[number, number]>, local: number): Tensor {
  const slices = ranges.filter(([, len]) => len > 0).map(([start, len]) => full.narrow(dim, start, len));
  const filled = slices.reduce((a, s) => a + s.size(dim), 0);
  if (filled < local)
    slices.push(
      zeros(
        full.shape.map((s, d) => (d === dim ? local - filled : s)),
        { dtype: full.dtype, device: full.device },
      ),
    );
  return slices.length === 1 ? slices[0].clone() : cat(slices, dim);
}

/** Puts a slice (cutSlice's result) back into its place in `full`, its padding dropped. */
export function placeSlice(full: Tensor, dim: number, ranges: Array<[number, number]>, slice: Tensor): void {
  let at = 0;
  for (const [start, len] of ranges) {
    if (len > 0) full.narrow(dim, start, len).copy_(slice.narrow(dim, at, len));
    at += len;
  }
}

/** Even split of [0, n) over the ranks. */
function evenPieces(n: number, size: number, what: string): Array<Array<[number, number]>> {
  if (n % size !== 0) throw new Error(`tensor parallel: ${what} (${n}) does not split over ${size} ranks`);
  const len = n / size;
  return Array.from({ length: size }, (_, r) => [[r * len, len]]);
}

export class TensorParallelModel {
  /** The specs of the sharded parameters, by their names in the model. */
  readonly specs = new Map<string, ShardSpec>();
  /** The sharded parameters' (module, attribute) pairs: ZeRO keeps them apart from replicated ones. */
  private readonly sharded = new WeakMap<Module, Set<string>>();
  /** Whether the forward now running splits the sequence. */
  private sequenceActive = false;
  /** Under SP, the input of the column-parallel region now running. */
  private region: GatheredInput | null = null;
  /** The forwards this executor installed: a later wrap runs around an earlier one. */
  private readonly forwards = new WeakMap<Module, Forward>();
  readonly size: number;
  readonly rank: number;
  readonly vocabShard: VocabShard;

  constructor(
    readonly model: Module,
    readonly plan: TensorParallelPlan,
    readonly groups: TensorParallelGroups,
  ) {
    const g = groups.group;
    this.size = g.size();
    this.rank = g.rank();
    const t = this.size;
    if (plan.heads % t !== 0) throw new Error(`tensor parallel: ${plan.heads} attention heads do not split over ${t} ranks`);
    if (plan.kvHeads % t !== 0 && t % plan.kvHeads !== 0)
      throw new Error(`tensor parallel: ${plan.kvHeads} key/value heads neither split over nor divide ${t} ranks`);
    const width = Math.ceil(plan.vocab / t);
    this.vocabShard = {
      group: g,
      start: this.rank * width,
      real: Math.max(0, Math.min(width, plan.vocab - this.rank * width)),
      vocab: plan.vocab,
    };

    const names = new Map<Module, string>();
    for (const [name, m] of model.named_modules()) names.set(m, name);
    const styled: Array<[string, Module, ParallelStyle]> = [];
    const rules = Object.entries(plan.modules).map(([p, s]) => [patternRegex(p), s] as const);
    for (const [m, name] of names) {
      const rule = rules.find(([re]) => re.test(name));
      if (rule !== undefined) styled.push([name, m, rule[1]]);
    }
    const locals = new Map<Tensor, Parameter>();
    no_grad(() => {
      for (const [name, m, style] of styled) this.shardModule(name, m, style, locals);
    });
    for (const p of locals.keys()) p.dispose();
    for (const [, m, style] of styled) this.install(m, style);
    plan.localize(model, { size: t, rank: this.rank });
    this.wrapOutput();
  }

  private spec(style: ParallelStyle, attr: string, shape: number[]): ShardSpec | null {
    const t = this.size;
    const { plan } = this;
    const layout = "layout" in style ? (style.layout ?? "linear") : "linear";
    const outDim = layout === "linear" ? 0 : shape.length - 1;
    const inDim = layout === "linear" ? 1 : 0;
    switch (style.style) {
      case "colwise": {
        const dim = attr === "bias" ? 0 : outDim;
        const blocks = style.fused ?? 1;
        const block = shape[dim] / blocks;
        const kvReplicated = style.heads === "kv" && plan.kvHeads % t !== 0;
        const replicas = t / plan.kvHeads;
        if (kvReplicated && plan.headDim % replicas !== 0)
          throw new Error(`tensor parallel: head_dim ${plan.headDim} does not split over the ${replicas} ranks sharing a key/value head`);
        const perBlock = (r: number): [number, number] => {
          if (!kvReplicated) return evenPieces(block, t, `output features of ${attr}`)[r][0];
          const len = plan.headDim / replicas;
          return [Math.floor(r / replicas) * plan.headDim + (r % replicas) * len, len];
        };
        const pieces = Array.from({ length: t }, (_, r) =>
          Array.from({ length: blocks }, (_, b): [number, number] => {
            const [start, len] = perBlock(r);
            return [b * block + start, len];
          }),
        );
        return { dim, full: shape, local: pieces[0].reduce((a, [, l]) => a + l, 0), pieces };
      }
      case "rowwise":
        if (attr !== "weight") return null;
        return { dim: inDim, full: shape, local: shape[inDim] / t, pieces: evenPieces(shape[inDim], t, "input features") };
      case "vocab_embedding":
      case "vocab_head": {
        if (attr !== "weight")
          throw new Error(`tensor parallel: a vocab-parallel ${style.style} has a ${attr}; only a weight is supported`);
        const width = Math.ceil(plan.vocab / t);
        const pieces = Array.from(
          { length: t },
          (_, r): Array<[number, number]> => [[r * width, Math.max(0, Math.min(width, plan.vocab - r * width))]],
        );
        return { dim: 0, full: shape, local: width, pieces };
      }
      default:
        return null;
    }
  }

  /** Replaces the module's parameters by this rank's slices (a parameter shared by two modules is cut once). */
  private shardModule(name: string, m: Module, style: ParallelStyle, locals: Map<Tensor, Parameter>): void {
    for (const [attr, p] of m.named_parameters({ recurse: false, remove_duplicate: false })) {
      const spec = this.spec(style, attr, p.shape);
      if (spec === null) continue;
      let local = locals.get(p);
      if (local === undefined) {
        local = new Parameter(cutSlice(p, spec.dim, spec.pieces[this.rank], spec.local), p.requires_grad);
        // A slice: a whole-tensor quantity (clip_grad_norm_'s norm) sums over the group.
        _mark_sharded(local, this.groups.group);
        locals.set(p, local);
      }
      slots(m)[attr] = local;
      this.specs.set(name === "" ? attr : `${name}.${attr}`, spec);
      const set = this.sharded.get(m) ?? new Set<string>();
      set.add(attr);
      this.sharded.set(m, set);
    }
    // Keep nn's size attributes true to the slices (repr, and code reading them).
    const s = slots(m);
    const weight = s.weight instanceof Tensor ? s.weight : null;
    if (weight !== null && typeof s.out_features === "number")
      Object.assign(s, { out_features: weight.size(0), in_features: weight.size(1) });
    if (weight !== null && typeof s.num_embeddings === "number") s.num_embeddings = weight.size(0);
  }

  /** Whether `attr` of `m` is this rank's slice of a larger tensor. */
  isSharded(m: Module, attr: string): boolean {
    return this.sharded.get(m)?.has(attr) ?? false;
  }

  /** Replaces `m`'s forward by `wrap(inner, args)`, `inner` being the forward it had (its class's, or an earlier wrap). */
  private wrapForward(m: Module, wrap: (inner: Forward, args: unknown[]) => unknown): void {
    const inner = this.forwards.get(m) ?? (Object.getPrototypeOf(m) as { forward: Forward }).forward.bind(m);
    const outer: Forward = (...args) => wrap(inner, args);
    this.forwards.set(m, outer);
    m.forward = outer;
  }

  /**
   * The module's input enters the split region: under SP gathered from the sequence shards (the
   * region's colwise linears keep the shard), else through f.
   */
  private enterRegion(m: Module): void {
    const g = this.groups.group;
    this.wrapForward(m, (inner, [x, ...rest]) =>
      scope(() => {
        if (!this.sequenceActive) return inner(copyToGroup(x as Tensor, g), ...rest);
        const outer = this.region;
        this.region = new GatheredInput(x as Tensor, g);
        try {
          return inner(this.region.full, ...rest);
        } finally {
          this.region = outer;
        }
      }),
    );
  }

  /**
   * A column-parallel linear: on its region's gathered input it keeps only the shard for backward.
   * Only a module that computes x·Wᵀ + b (nn.Linear's own forward), x·W + b (GPT-2's Conv1D) or x·w(m)ᵀ
   * with the plan's `weight` (Baichuan2's NormHead) does; another (a LoRA layer adds its branch) runs
   * as it is, keeping the gathered input.
   */
  private columnLinear(m: Module, layout: WeightLayout, weight?: (m: Module) => Tensor): void {
    if (
      weight === undefined &&
      layout === "linear" &&
      (Object.getPrototypeOf(m) as { forward: unknown }).forward !== Linear.prototype.forward
    )
      return;
    this.wrapForward(m, (inner, args) => {
      const region = this.region;
      if (region === null || args[0] !== region.full) return inner(...args);
      const s = slots(m);
      if (weight !== undefined) return region.linear(weight(m), null, layout);
      return region.linear(s.weight as Tensor, (s.bias as Tensor | null | undefined) ?? null, layout);
    });
  }

  /**
   * While `m` runs (and `when()` holds), each of its own parameters is seen through `through`: the
   * attribute holds the transformed tensor, and the parameter comes back after the forward. Used to
   * gather a stored slice, or to sum the gradient of a parameter whose uses see part of the data.
   */
  private swapDuring(m: Module, when: () => boolean, through: (attr: string, t: Tensor) => Tensor): void {
    this.wrapForward(m, (inner, args) => {
      if (!when()) return inner(...args);
      const s = slots(m);
      const names = [...m.named_parameters({ recurse: false, remove_duplicate: false })].map(([k]) => k);
      // Under ZeRO the attributes are views of the gathered buffer rather than parameters.
      const attrs = names.length > 0 ? names : ["weight", "bias"].filter((k) => s[k] instanceof Tensor);
      const saved = attrs.map((k) => [k, s[k]] as const);
      for (const k of attrs) s[k] = through(k, s[k] as Tensor);
      try {
        return inner(...args);
      } finally {
        for (const [k, v] of saved) s[k] = v;
      }
    });
  }

  private install(m: Module, style: ParallelStyle): void {
    const g = this.groups.group;
    switch (style.style) {
      case "colwise":
        this.columnLinear(m, style.layout ?? "linear");
        if (style.heads === "kv" && this.groups.kvReplicas !== null) {
          const replicas = this.groups.kvReplicas;
          const outDim = (style.layout ?? "linear") === "linear" ? 0 : 1;
          this.swapDuring(
            m,
            () => true,
            (attr, t) => gatherShards(t, replicas, attr === "bias" ? 0 : outDim),
          );
        }
        return;
      case "rowwise": {
        const layout = style.layout ?? "linear";
        m.forward = (x: Tensor): Tensor =>
          scope(() => {
            const s = slots(m);
            const partial = F.linear(x, layout === "linear" ? (s.weight as Tensor) : (s.weight as Tensor).t());
            const out = this.sequenceActive ? reduceScatterShards(partial, g, 1) : reduceFromGroup(partial, g);
            const bias = s.bias as Tensor | null;
            if (bias === null || bias === undefined) return out;
            return out.add(this.sequenceActive ? copyToGroup(bias, g) : bias);
          });
        return;
      }
      case "parallel_input":
        this.enterRegion(m);
        return;
      case "vocab_embedding": {
        const { start, real } = this.vocabShard;
        const width = Math.ceil(this.plan.vocab / this.size);
        m.forward = (ids: Tensor): Tensor =>
          scope(() => {
            const s = slots(m);
            const outside = ids.lt(start).logical_or(ids.ge(start + width));
            const pad = s.padding_idx as number | null;
            const localPad = pad !== null && pad >= start && pad < start + real ? pad - start : null;
            const options = {
              padding_idx: localPad,
              max_norm: s.max_norm as number | null,
              norm_type: s.norm_type as number,
              scale_grad_by_freq: s.scale_grad_by_freq as boolean,
            };
            const e = F.embedding(ids.sub(start).masked_fill(outside, 0), s.weight as Tensor, options);
            return reduceFromGroup(e.masked_fill(outside.unsqueeze(-1), 0), g);
          });
        return;
      }
      case "vocab_head":
        // Its own region: a column-parallel linear over the vocabulary.
        this.columnLinear(m, "linear", style.weight);
        this.enterRegion(m);
        return;
      case "sequence_parallel":
        this.swapDuring(
          m,
          () => this.sequenceActive,
          (_attr, t) => copyToGroup(t, g),
        );
        return;
      case "sequence_start":
        this.wrapForward(m, (inner, [x, ...rest]) => {
          const t = x as Tensor;
          this.sequenceActive = this.groups.sequenceParallel && t.dim() >= 2 && t.size(1) % this.size === 0;
          return inner(this.sequenceActive ? splitShards(t, g, 1) : t, ...rest);
        });
        return;
    }
  }

  /**
   * The model's own forward runs without labels; with labels the loss is computed from the vocab
   * slices (the logits stay this rank's slice), without them the logits are gathered. Replacing the
   * implementation keeps the model's hooks (ZeRO, the global loss) around it, seeing the labels.
   */
  private wrapOutput(): void {
    const m = this.model;
    const impl = (Object.getPrototypeOf(m) as { forward: (...a: unknown[]) => unknown }).forward;
    const { plan, vocabShard } = this;
    m.forward = (...args: unknown[]): unknown => {
      const last = args[args.length - 1];
      const kwargs = isKwargs(last) ? last : null;
      const labels = kwargs?.labels instanceof Tensor ? kwargs.labels : null;
      const callArgs = kwargs === null || labels === null ? args : [...args.slice(0, -1), { ...kwargs, labels: null }];
      const out = impl.apply(m, callArgs) as { logits: Tensor };
      if (labels !== null)
        return plan.output(out, vocabParallelCausalLMLoss(out.logits, labels, vocabShard, { z_loss_weight: plan.zLossWeight }), out.logits);
      return plan.output(out, null, gatherVocab(out.logits, vocabShard));
    };
  }

  /**
   * Full tensors from the local state dict (a collective over the TP group; every rank of it calls
   * this with the same keys): each sharded entry is gathered and reassembled, padding dropped.
   */
  fullStateDict(local: StateDict, prefix = ""): StateDict {
    const out: StateDict = {};
    const g = this.groups.group;
    for (const [key, t] of Object.entries(local)) {
      const spec = key.startsWith(prefix) ? this.specs.get(key.slice(prefix.length)) : undefined;
      if (spec === undefined) {
        out[key] = t;
        continue;
      }
      out[key] = no_grad(() => {
        const src = t.movedim(spec.dim, 0).contiguous();
        const all = empty([this.size * src.size(0), ...src.shape.slice(1)], { dtype: t.dtype, device: t.device });
        dist.all_gather_into_tensor(all, src, { group: g });
        const full = zeros([spec.full[spec.dim], ...src.shape.slice(1)], { dtype: t.dtype, device: t.device });
        spec.pieces.forEach((pieces, r) => placeSlice(full, 0, pieces, all.narrow(0, r * spec.local, spec.local)));
        return full.movedim(0, spec.dim).contiguous();
      });
    }
    return out;
  }
}
