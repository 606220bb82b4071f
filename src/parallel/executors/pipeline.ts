// Pipeline parallelism applied to a model from outside its code: 1F1B and interleaved 1F1B over the
// pipeline ranks of a data-parallel replica, under a training loop that does not change.
//
// Stages. The decoder layers (layers.ts) are cut into pp·vpp chunks by the planner's split
// (planner/stages.ts); chunk c runs on pipeline rank c mod pp. Parameters of modules registered
// before the layers (the embedding) belong to the first chunk, after them (final norm, output
// layer) to the last. A rank keeps only its chunks' parameters: the others' layers leave the model
// (a pass-through module takes their place in the ModuleList), and the others' parameters outside
// the layers become zero-stride placeholders of the same shape (non-persistent buffers), so that
// the model code still runs around them. A weight tied between the first and last chunks (the
// embedding and the output layer) is a parameter of the first stage only; the last stage computes
// with a copy, refreshed after each optimizer step, and sends its gradient back.
//
// One chunk's forward is the model's own forward: the pass-through modules skip the layers of other
// chunks, a module in the slot before the chunk swaps in the activation received from the previous
// rank, and one in the slot after it ends the forward by throwing the chunk's output.
//
// Under an unchanged script. A forward with labels and grad enabled runs the whole schedule: the
// batch splits into grad_accum micro-batches, each chunk's forward and backward run in the
// schedule's order (pipeline_schedule.ts), activations and their gradients travel with
// batch_isend_irecv, and only the last stage computes the loss, each micro-batch's weighted by its
// share of the counted tokens. The flat units (ZeRO 0/1, sharded.ts) hold the micro-batches'
// gradients instead of reducing them. The forward returns the loss as a scalar (the batch's, from
// the last stage, the same on every rank) whose backward scales the held gradients by its incoming
// gradient and reduces them over the data-parallel group: gradients are linear in the loss's
// gradient, so `(loss / k).backward()` and a GradScaler give one process's gradients. Forwards
// without grad (evaluation, generate) run the chunks one after another on the whole batch, with a
// key/value cache per rank; the logits come from the last stage to every rank.
import "../../torch/_generated/tensor_methods.js";
import { empty, zeros } from "../../torch/_generated/functions.js";
import { backward } from "../../torch/autograd/engine.js";
import { Function, type FunctionCtx } from "../../torch/autograd/function.js";
import { is_grad_enabled, no_grad } from "../../torch/autograd/grad_mode.js";
import { tensor } from "../../torch/creation.js";
import * as dist from "../../torch/distributed/index.js";
import type { ProcessGroup } from "../../torch/distributed/process_group.js";
import type { Work } from "../../torch/distributed/work.js";
import { bfloat16, float16, float32, float64, int64, type dtype } from "../../torch/dtype.js";
import { isKwargs } from "../../torch/_invoke.js";
import { ModuleList } from "../../torch/nn/modules/container.js";
import { _hook_keeps_nothing, Module, type StateDict } from "../../torch/nn/modules/module.js";
import { escape, scope } from "../../torch/memory.js";
import { Tensor } from "../../torch/tensor.js";
import { pipelineOutput, StageCache } from "../pp_plans/index.js";
import type { FlatUnit } from "./flat_unit.js";
import { countedTokens, globalizeLoss } from "./global_loss.js";
import { messageKey as key, pipelineOrder, sendsArrivedBy, type PipelineStep } from "./pipeline_schedule.js";
import { parameterOwners } from "./sharded.js";

export interface PipelineOptions {
  pp: number;
  vpp: number;
  /** Micro-batches per step (the plan's grad_accum). */
  microBatches: number;
  /** Decoder layers of each of the pp·vpp chunks: the planner's split (planner/stages.ts chunkLayers). */
  chunks: number[];
  /** This rank's pipeline (global ranks in stage order); null with one stage (micro-batches only). */
  group: ProcessGroup | null;
  /** The data-parallel ranks of this stage, over which the loss is made global (null and 1: none). */
  dpGroup: ProcessGroup | null;
  dp: number;
  /** The saved shape of a state-dict key, when the rank holds a slice of it (tensor parallelism). */
  fullShape?: (key: string) => number[] | undefined;
}

/** What one training step measured on this rank (tests and bench/pipeline.ts compare it with the planner). */
export interface PipelineStats {
  microBatches: number;
  /** Seconds from the schedule's start to its last backward, and of them spent computing. */
  wall: number;
  busy: number;
  /** Most micro-batches whose activations this rank held at once, in units of its whole stage. */
  inFlight: number;
}

type Slots = Record<string, unknown>;
const slots = (m: Module): Slots => m as unknown as Slots;

/** Skips a layer of another chunk: the hidden states go through unchanged. */
class PassThrough extends Module {
  override forward(hidden: unknown): unknown {
    return hidden;
  }
}

/** In the slot before a chunk: gives the chunk the activation received from the previous rank. */
class Receive extends Module {
  constructor(private readonly pipeline: PipelinedModel) {
    super();
  }

  override forward(hidden: Tensor): Tensor {
    return this.pipeline.received(hidden);
  }
}

/** Thrown by the slot after a chunk: carries the chunk's output out of the model's forward. */
class ChunkOutput {
  constructor(readonly value: Tensor) {}
}

class EndChunk extends Module {
  override forward(hidden: Tensor): never {
    // The schedule's until the chunk's backward (which disposes it): not the model's scope, which the throw ends.
    escape(hidden);
    throw new ChunkOutput(hidden);
  }
}

// The loss every rank returns from a training forward: its value is the batch's loss; its backward
// scales the gradients the schedule held by the incoming gradient and reduces them.
class PipelineLoss extends Function {
  static override forward(ctx: FunctionCtx, pipeline: PipelinedModel, step: number, value: Tensor, _anchor: Tensor): Tensor {
    ctx.pipeline = pipeline;
    ctx.step = step;
    return value.clone();
  }

  static override backward(ctx: FunctionCtx, grad: Tensor): [null, null, null, null] {
    (ctx.pipeline as PipelinedModel).reduceHeld(ctx.step as number, grad);
    return [null, null, null, null];
  }
}

/** The batch's input (input_ids or inputs_embeds): its first dimension is the rows, its second the sequence. */
function batchInput(args: unknown[], kwargs: Record<string, unknown>): Tensor {
  const first = [args[0], kwargs.input_ids, kwargs.inputs_embeds].find((t) => t instanceof Tensor);
  if (!(first instanceof Tensor) || first.dim() < 2)
    throw new Error("pipeline parallel: the forward needs input_ids or inputs_embeds of shape [batch, sequence, ...]");
  return first;
}

/** Rows [start, start + rows) of every batch-shaped tensor among the arguments (the rest as given). */
function sliceRows(value: unknown, batch: number, start: number, rows: number): unknown {
  if (value instanceof Tensor) return value.dim() >= 1 && value.size(0) === batch ? value.narrow(0, start, rows) : value;
  if (Array.isArray(value)) return value.map((v) => sliceRows(v, batch, start, rows));
  if (isKwargs(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, sliceRows(v, batch, start, rows)]));
  return value;
}

function kwargsOf(args: unknown[]): Record<string, unknown> {
  const last = args[args.length - 1];
  return isKwargs(last) ? last : {};
}

/** The arguments with `extra` merged into the keyword options. */
function withKwargs(args: unknown[], extra: Record<string, unknown>): unknown[] {
  const positional = isKwargs(args[args.length - 1]) ? args.slice(0, -1) : args;
  return [...positional, { ...kwargsOf(args), ...extra }];
}

/** The dtypes logits travel in, by index (the header names one). */
const WIRE_DTYPES: dtype[] = [float32, bfloat16, float16, float64];

interface Placement {
  chunk: Map<Module, number>;
  inLayers: Set<Module>;
}

interface ChunkRun {
  input: Tensor | null;
  output: Tensor | null;
  loss: Tensor | null;
}

/** A posted receive: its buffer fills when `work` completes. */
interface Posted {
  buffer: Tensor;
  work: Work;
}

export class PipelinedModel {
  /** This rank's decoder layers, in model order. */
  readonly localLayers: Module[];
  readonly stage: number;
  readonly chunks: Array<{ start: number; end: number }>;
  stats: PipelineStats | null = null;
  private readonly list: ModuleList;
  /** The layers by index: this rank's, null for the others'. */
  private readonly layers: Array<Module | null>;
  private readonly resting: Module[];
  private readonly call: (...args: unknown[]) => unknown;
  private readonly receive = new Receive(this);
  private readonly end = new EndChunk();
  /** Activations and their gradients travel in the model's compute dtype. */
  private readonly wire: dtype;
  private units: FlatUnit[] = [];
  /** Tied weights: on the first stage the parameter's owner, on the last the copy it computes with. */
  private readonly tied: Array<{ owner: Module; attr: string; copy: Tensor | null }> = [];
  private tiedStale = true;
  /** Keys of the full model's state dict, with the stage that holds each (rank 0 gathers them). */
  private readonly keys: Array<{ key: string; stage: number; shape: number[]; dtype: dtype }> = [];
  /** The hidden states' dimensions after [batch, sequence], learned from the first one received. */
  private trailing: number[] | null = null;
  private readonly anchor = zeros([], { requires_grad: true });
  private step = 0;
  private heldStep = -1;
  // The chunk now running: where its input comes from, and whether its layers have started.
  private input: ((hidden: Tensor) => Tensor) | null = null;
  private inChunk = false;

  constructor(
    readonly model: Module,
    layers: Module[],
    readonly options: PipelineOptions,
  ) {
    const { pp, vpp } = options;
    if ((options.group?.size() ?? 1) !== pp)
      throw new Error(`pipeline parallel: the pipeline group has ${options.group?.size() ?? 1} ranks, the plan ${pp} stages`);
    this.stage = options.group?.rank() ?? 0;
    const counts = options.chunks;
    if (counts.length !== pp * vpp || counts.reduce((a, b) => a + b, 0) !== layers.length) {
      throw new Error(
        `pipeline parallel: the model has ${layers.length} repeated layers; the split [${counts.join(", ")}] is for ${pp * vpp} chunks of ${counts.reduce((a, b) => a + b, 0)}`,
      );
    }
    let at = 0;
    this.chunks = counts.map((n) => ({ start: at, end: (at += n) }));
    const list = [...model.modules()].find((m) => m instanceof ModuleList && [...m.children()][0] === layers[0]);
    if (!(list instanceof ModuleList)) throw new Error("pipeline parallel: the decoder layers are not the children of one ModuleList");
    this.list = list;
    this.wire = [...model.parameters()].find((p) => p.dtype.is_floating_point)?.dtype ?? float32;
    const local = (i: number): boolean => this.chunkOf(i) % pp === this.stage;
    this.localLayers = layers.filter((_, i) => local(i));
    this.layers = layers.map((layer, i) => (local(i) ? layer : null));
    const place = this.placeModules(layers);
    this.recordKeys(place);
    this.strip(place);
    this.resting = this.layers.map((layer) => layer ?? new PassThrough());
    this.rest();
    this.call = model.forward;
    const own = Object.getOwnPropertyDescriptor(model, "forward");
    const pipelined = (...args: unknown[]): unknown => this.forward(args);
    // Assigning model.forward still replaces the implementation underneath.
    Object.defineProperty(model, "forward", { configurable: true, enumerable: false, get: () => pipelined, set: own?.set });
  }

  private chunkOf(layer: number): number {
    return this.chunks.findIndex((c) => layer >= c.start && layer < c.end);
  }

  private rankOf(chunk: number): number {
    const group = this.options.group;
    return group === null ? dist.get_rank() : group.ranks[chunk % this.options.pp];
  }

  /** `t` from the last stage to every stage. */
  private fromLastStage(t: Tensor): void {
    if (this.options.group !== null) dist.broadcast(t, this.rankOf(this.lastChunk), { group: this.options.group });
  }

  private get lastChunk(): number {
    return this.chunks.length - 1;
  }

  /**
   * Where each module runs: inside a layer (that layer's chunk), else the first chunk for modules
   * registered before the layers and the last for those registered after them.
   */
  private placeModules(layers: Module[]): Placement {
    const layerIndex = new Map<Module, number>();
    layers.forEach((layer, i) => {
      for (const m of layer.modules()) layerIndex.set(m, i);
    });
    const chunk = new Map<Module, number>();
    let after = false;
    for (const m of this.model.modules()) {
      const i = layerIndex.get(m);
      if (i !== undefined) after = true;
      chunk.set(m, i !== undefined ? this.chunkOf(i) : after ? this.lastChunk : 0);
    }
    return { chunk, inLayers: new Set(layerIndex.keys()) };
  }

  /** The full model's state-dict keys, shapes and dtypes, and which stage saves each (the first that holds it). */
  private recordKeys(place: Placement): void {
    const stageOf = new Map<Tensor, number>();
    for (const [p, owners] of parameterOwners(this.model))
      stageOf.set(p, Math.min(...owners.map(([m]) => place.chunk.get(m)!)) % this.options.pp);
    const full = Module.prototype.state_dict.call(this.model, { keep_vars: true });
    for (const [key, t] of Object.entries(full))
      this.keys.push({ key, stage: stageOf.get(t) ?? 0, shape: this.options.fullShape?.(key) ?? t.shape, dtype: t.dtype });
  }

  /**
   * Drops what other ranks hold: their layers' parameters (the layers leave the model), their other
   * parameters (placeholders), and on the last stage a weight tied to the first (a copy takes its place).
   */
  private strip(place: Placement): void {
    const { pp } = this.options;
    for (const [p, owners] of parameterOwners(this.model)) {
      const chunks = new Set(owners.map(([m]) => place.chunk.get(m)!));
      const stages = new Set([...chunks].map((c) => c % pp));
      const tied = stages.size > 1;
      if (tied && !(chunks.size === 2 && chunks.has(0) && chunks.has(this.lastChunk))) {
        throw new Error(
          `pipeline parallel: a parameter is shared by chunks ${[...chunks].join(", ")} on different stages; only a weight tied between the first and the last chunk is supported`,
        );
      }
      if (tied && this.stage === 0) {
        // The first stage owns it (the optimizer steps it, the gradient norm counts it once); the last sends its gradient here.
        const [m, attr] = owners.find(([o]) => place.chunk.get(o) === 0)!;
        this.tied.push({ owner: m, attr, copy: null });
        continue;
      }
      if (!tied && stages.has(this.stage)) continue;
      let copy: Tensor | null = null;
      for (const [m, attr] of owners) {
        if (place.inLayers.has(m)) continue;
        const last = place.chunk.get(m) === this.lastChunk;
        if (tied && last && this.stage === this.lastChunk % pp) {
          if (copy === null) {
            copy = no_grad(() => p.detach().clone()).requires_grad_(p.requires_grad);
            this.tied.push({ owner: m, attr, copy });
          }
          slots(m)[attr] = copy;
          continue;
        }
        m.register_buffer(
          attr,
          no_grad(() => zeros([], { dtype: p.dtype, device: p.device }).expand(p.shape)),
          false,
        );
        this.guard(m, last);
      }
      p.dispose();
    }
  }

  /**
   * A module whose parameters this rank does not hold may run only where its output is discarded:
   * before the layers of a chunk that receives its input (modules registered before the layers).
   * Anywhere else it would compute with the placeholders, so it is refused: a model whose modules
   * run in another order than they are registered in.
   */
  private guard(m: Module, afterLayers: boolean): void {
    m.register_forward_pre_hook(
      _hook_keeps_nothing(() => {
        if (afterLayers || this.inChunk)
          throw new Error(
            `pipeline parallel: ${m.constructor.name} runs among or after this stage's layers, but its parameters are on another stage (modules are placed by registration order: before the decoder layers on the first stage, after them on the last)`,
          );
        return undefined;
      }),
    );
  }

  private rest(): void {
    this.resting.forEach((m, i) => (this.list[i] = m));
  }

  /** The flat units holding this rank's parameters (sharded.ts): they hold the micro-batches' gradients. */
  useUnits(units: FlatUnit[]): void {
    this.units = units.filter((u) => u.trainable);
  }

  // ---- one chunk ---------------------------------------------------------------------------

  /** The chunk's layers in their slots, the others passed through, a receiver before and an end after. */
  private runChunk(chunk: number, args: unknown[], input: ((hidden: Tensor) => Tensor) | null): { hidden: Tensor } | { output: unknown } {
    const { start, end } = this.chunks[chunk];
    const pass = new PassThrough();
    this.layers.forEach((layer, i) => (this.list[i] = i >= start && i < end ? layer! : pass));
    if (start > 0) this.list[start - 1] = this.receive;
    if (end < this.layers.length) this.list[end] = this.end;
    this.input = input;
    this.inChunk = start === 0;
    try {
      return { output: this.call(...args) };
    } catch (e) {
      if (e instanceof ChunkOutput) return { hidden: e.value };
      throw e;
    } finally {
      this.input = null;
      this.inChunk = false;
      this.rest();
    }
  }

  /** The receiver's call: the previous rank's activation, in the dtype of this rank's hidden states. */
  received(hidden: Tensor): Tensor {
    this.trailing ??= hidden.shape.slice(2);
    const x = this.input!(hidden);
    this.inChunk = true;
    if (x.shape.length !== hidden.dim() || x.shape.some((n, i) => n !== hidden.size(i))) {
      throw new Error(
        `pipeline parallel: received an activation of shape [${x.shape}] where this stage's hidden states are [${hidden.shape}]`,
      );
    }
    return x.dtype === hidden.dtype ? x : x.to(hidden.dtype);
  }

  // ---- the forward ---------------------------------------------------------------------------

  private forward(args: unknown[]): unknown {
    const kwargs = kwargsOf(args);
    if (is_grad_enabled() && kwargs.labels instanceof Tensor) return this.train(args, kwargs);
    if (is_grad_enabled() && this.model.training) {
      throw new Error(
        "pipeline parallel: a training forward needs labels (the loss is computed on the last stage, inside the schedule); evaluate under torch.no_grad() or model.eval()",
      );
    }
    return no_grad(() => this.evaluate(args, kwargs));
  }

  /** The peer stage of a tied weight. */
  private get tiedPeer(): number {
    return this.stage === 0 ? this.rankOf(this.lastChunk) : this.rankOf(0);
  }

  /** The first stage's tied weights, sent to the last stage's copies after they may have changed (an optimizer step). */
  private syncTied(): void {
    if (!this.tiedStale || this.tied.length === 0) return;
    const ops = this.tied.map(({ owner, attr, copy }) => {
      if (copy !== null) return new dist.P2POp(dist.irecv, copy.detach(), this.tiedPeer, this.options.group);
      // ZeRO-1: the updated chunks are gathered first (the views share the full buffer).
      this.unitHolding(owner, attr)?.gather();
      return new dist.P2POp(dist.isend, (slots(owner)[attr] as Tensor).detach().contiguous(), this.tiedPeer, this.options.group);
    });
    for (const w of dist.batch_isend_irecv(ops)) w.wait();
    this.tiedStale = false;
  }

  private unitHolding(owner: Module, attr: string): FlatUnit | undefined {
    return this.units.find((u) => u.entries.some((e) => e.owners.some(([m, n]) => m === owner && n === attr)));
  }

  /** The last stage's gradients of the tied copies, added to the first stage's held gradients. */
  private gatherTiedGrads(): void {
    const bufs = this.tied.map(({ owner, attr, copy }) => {
      if (copy !== null) return copy.grad?.contiguous() ?? zeros(copy.shape, { dtype: copy.dtype, device: copy.device });
      const w = slots(owner)[attr] as Tensor;
      return empty(w.shape, { dtype: w.dtype, device: w.device });
    });
    const ops = this.tied.map(
      ({ copy }, i) => new dist.P2POp(copy === null ? dist.irecv : dist.isend, bufs[i], this.tiedPeer, this.options.group),
    );
    for (const w of dist.batch_isend_irecv(ops)) w.wait();
    this.tied.forEach(({ owner, attr, copy }, i) => {
      if (copy !== null) copy.grad = null;
      else this.unitHolding(owner, attr)?.holdEntryGradient(owner, attr, bufs[i]);
    });
  }

  private train(args: unknown[], kwargs: Record<string, unknown>): unknown {
    const { pp, vpp } = this.options;
    const first = batchInput(args, kwargs);
    const rows = first.size(0);
    const m = Math.min(this.options.microBatches, rows);
    if (vpp > 1 && m % pp !== 0) {
      throw new Error(
        `pipeline parallel: interleaving (vpp ${vpp}) runs the micro-batches in groups of pp ${pp}; this batch of ${rows} rows makes ${m} micro-batches`,
      );
    }
    // Near-equal micro-batches; each one's loss counts by its share of the tokens the loss averages over.
    const sizes = Array.from({ length: m }, (_, i) => Math.floor(rows / m) + (i < rows % m ? 1 : 0));
    let start = 0;
    const micro = sizes.map((n) => {
      const sliced = sliceRows(args, rows, start, n) as unknown[];
      start += n;
      return withKwargs(sliced, { use_cache: false });
    });
    const counts = scope(() => micro.map((a) => countedTokens(kwargsOf(a).labels) ?? 0));
    const total = counts.reduce((a, b) => a + b, 0);
    const weights = counts.map((n, i) => (total > 0 ? n / total : sizes[i] / rows));

    this.syncTied();
    this.step++;
    for (const u of this.units) u.holdGradients();
    let loss: Tensor | null;
    try {
      loss = this.schedule(micro, weights, first.device);
    } finally {
      for (const u of this.units) u.stopHolding();
    }
    this.gatherTiedGrads();
    this.heldStep = this.step;
    // The loss is the last stage's; every rank of the pipeline returns it.
    const value = (loss ?? zeros([])).to({ dtype: float64, device: first.device, copy: true });
    this.fromLastStage(value);
    const output = pipelineOutput(PipelineLoss.apply(this, this.step, value.to(float32), this.anchor), zeros(0), null);
    Object.defineProperty(output, "logits", {
      enumerable: false,
      get: () => {
        throw new Error(
          "pipeline parallel: a training forward returns the loss only (its micro-batches' logits stay on the last stage); run the forward under torch.no_grad() for logits",
        );
      },
    });
    globalizeLoss(output, kwargs, this.options.dp, this.options.dpGroup);
    return output;
  }

  /** The weights were written from outside (a checkpoint loaded): the last stage's tied copies are refreshed at the next forward. */
  weightsChanged(): void {
    this.tiedStale = true;
  }

  /** The loss's backward: the held gradients times `grad`, reduced over the data-parallel group. */
  reduceHeld(step: number, grad: Tensor): void {
    if (step !== this.heldStep) {
      throw new Error(
        "pipeline parallel: backward of a loss whose gradients are gone; only the latest forward's loss can be backpropagated, once (its micro-batches' gradients are held until then)",
      );
    }
    this.heldStep = -1;
    for (const u of this.units) u.reduceHeld(grad);
    // An optimizer step follows: the last stage's tied copies are refreshed at the next forward.
    this.tiedStale = true;
  }

  /**
   * Runs this rank's share of the schedule; returns the batch's loss on the last stage (else null).
   * Memory goes when its owner is done, not at V8's next collection: each forward and backward runs
   * in a scope (the logits, the loss's intermediates and the output object go when it ends), a
   * micro-batch's input, output and received gradient are disposed once its backward has run, and a
   * send's Work is waited on (which frees the tensor it pinned) once a later message from its peer
   * shows it arrived. The schedule itself is a scope too: nothing it made outlives it but the loss.
   */
  private schedule(micro: unknown[][], weights: number[], device: Tensor["device"]): Tensor | null {
    return scope(() => this.runSchedule(micro, weights, device));
  }

  private runSchedule(micro: unknown[][], weights: number[], device: Tensor["device"]): Tensor | null {
    const { pp, vpp } = this.options;
    const group = this.options.group;
    const order = pipelineOrder(pp, vpp, micro.length, this.stage);
    const runs = new Map<string, ChunkRun>();
    const posted = new Map<string, Posted>();
    const sends = new Map<string, Work>();
    const arrivedBy = sendsArrivedBy(pp, vpp, micro.length, this.stage);
    // Every message of a step has its own tag: Gloo matches by tag, NCCL by order (the schedule keeps both ends in order).
    const tag = (kind: string, chunk: number, mb: number): number => (kind === "F" ? 0 : 1) + 2 * (chunk + this.chunks.length * mb);
    let waited = 0;
    // The receive a step needs, posted now if its shape is known: an activation before a forward
    // (not of the first chunk), a gradient before a backward (not of the last).
    const recvOf = (s: PipelineStep): Posted | null | undefined => {
      const from = s.kind === "F" ? s.chunk - 1 : s.chunk + 1;
      if (from < 0 || from > this.lastChunk) return undefined;
      const k = key(s.kind, s.chunk, s.microBatch);
      const have = posted.get(k);
      if (have !== undefined) return have;
      let shape: number[];
      if (s.kind === "B") shape = runs.get(key("F", s.chunk, s.microBatch))!.output!.shape;
      else if (this.trailing !== null)
        shape = [...batchInput(micro[s.microBatch], kwargsOf(micro[s.microBatch])).shape.slice(0, 2), ...this.trailing];
      else return null;
      const buffer = empty(shape, { dtype: this.wire, device });
      const [work] = dist.batch_isend_irecv([
        new dist.P2POp(dist.irecv, buffer, this.rankOf(from), group, tag(s.kind, s.chunk, s.microBatch)),
      ]);
      const p = { buffer, work };
      posted.set(k, p);
      return p;
    };
    const take = (s: PipelineStep): Tensor => {
      const p = recvOf(s)!;
      const started = performance.now();
      p.work.wait();
      waited += performance.now() - started;
      const k = key(s.kind, s.chunk, s.microBatch);
      posted.delete(k);
      for (const sent of arrivedBy.get(k) ?? []) {
        sends.get(sent)?.wait();
        sends.delete(sent);
      }
      return p.buffer;
    };
    // A forward: its run (what its backward needs), the activation it sends on (null on the last
    // chunk) and the last chunk's weighted share of the batch's loss.
    const forward = (s: PipelineStep): { run: ChunkRun; send: Tensor | null; part: Tensor | null } => {
      const run: ChunkRun = { input: null, output: null, loss: null };
      // The received activation is the schedule's until the backward: not the model's scope, which the chunk's end throws out of.
      const input =
        s.chunk === 0
          ? null
          : (): Tensor => {
              run.input = take(s).requires_grad_(true);
              escape(run.input);
              return run.input;
            };
      // Only the last chunk computes the loss.
      const args = s.chunk === this.lastChunk ? micro[s.microBatch] : withKwargs(micro[s.microBatch], { labels: undefined });
      const r = this.runChunk(s.chunk, args, input);
      if ("hidden" in r) {
        run.output = r.hidden;
        return { run, send: r.hidden.detach().to(this.wire).contiguous(), part: null };
      }
      const out = (r.output as { loss?: unknown }).loss;
      if (!(out instanceof Tensor)) throw new Error("pipeline parallel: the model's forward returned no loss for the labels");
      run.loss = out;
      // The output object is the schedule's alone (a training forward returns the loss only): its
      // logits go now, though the model's hooks left them to the GC (hooks may keep what they see).
      for (const v of Object.values(r.output as object)) if (v instanceof Tensor && v !== out) v.dispose();
      return { run, send: null, part: out.detach().mul(weights[s.microBatch]) };
    };
    // A backward: the gradient of its input it sends back (null on the first chunk).
    const backwardOf = (s: PipelineStep, run: ChunkRun): Tensor | null => {
      if (run.loss !== null) backward(run.loss, tensor(weights[s.microBatch], { dtype: run.loss.dtype, device: run.loss.device }));
      else {
        const grad = take(s);
        backward(run.output!, grad.to(run.output!.dtype));
        grad.dispose();
      }
      if (run.input === null) return null;
      return (run.input.grad ?? zeros(run.input.shape, { dtype: run.input.dtype, device: run.input.device })).contiguous();
    };
    let loss: Tensor | null = null;
    let live = 0;
    let peak = 0;
    let busy = 0;
    const begin = performance.now();
    order.forEach((s, i) => {
      const k = key("F", s.chunk, s.microBatch);
      const layers = this.chunks[s.chunk].end - this.chunks[s.chunk].start;
      const started = performance.now();
      waited = 0;
      let send: Tensor | null;
      let to: number;
      if (s.kind === "F") {
        recvOf(s);
        const step = scope(() => forward(s));
        send = step.send;
        to = s.chunk + 1;
        if (step.part !== null) {
          if (loss === null) loss = step.part;
          else {
            loss.add_(step.part);
            step.part.dispose();
          }
        }
        runs.set(k, step.run);
        live += layers;
      } else {
        const run = runs.get(k)!;
        runs.delete(k);
        send = scope(() => backwardOf(s, run));
        to = s.chunk - 1;
        // The micro-batch is done here: its graph is gone, and what the sends still need they pin.
        for (const t of [run.input, run.output, run.loss]) t?.dispose();
        live -= layers;
      }
      busy += performance.now() - started - waited;
      peak = Math.max(peak, live);
      // The next step's receive goes out with this step's send, so it travels while this rank computes.
      const next = order[i + 1];
      if (next !== undefined) recvOf(next);
      if (send !== null) {
        const [work] = dist.batch_isend_irecv([new dist.P2POp(dist.isend, send, this.rankOf(to), group, tag(s.kind, to, s.microBatch))]);
        sends.set(key(s.kind, to, s.microBatch), work);
        send.dispose();
      }
    });
    for (const w of sends.values()) w.wait();
    this.stats = {
      microBatches: micro.length,
      wall: (performance.now() - begin) / 1000,
      busy: busy / 1000,
      inFlight: peak / this.localLayers.length,
    };
    return loss;
  }

  // ---- evaluation ---------------------------------------------------------------------------

  private evaluate(args: unknown[], kwargs: Record<string, unknown>): unknown {
    const first = batchInput(args, kwargs);
    const group = this.options.group;
    const past = kwargs.past_key_values;
    if (past !== undefined && past !== null && !(past instanceof StageCache)) {
      throw new Error("pipeline parallel: past_key_values must be the cache a pipelined forward returned");
    }
    const config = (this.model as { config?: { use_cache?: unknown } }).config;
    const cache = past instanceof StageCache ? past : (kwargs.use_cache ?? config?.use_cache) === true ? new StageCache() : null;
    this.syncTied();
    let output: { loss?: unknown; logits?: unknown } | null = null;
    const sends: Work[] = [];
    for (let c = this.stage; c < this.chunks.length; c += this.options.pp) {
      const input =
        c === 0
          ? null
          : (hidden: Tensor): Tensor => {
              const buffer = empty(hidden.shape, { dtype: this.wire, device: hidden.device });
              for (const w of dist.batch_isend_irecv([new dist.P2POp(dist.irecv, buffer, this.rankOf(c - 1), group, c)])) w.wait();
              return buffer;
            };
      const r = this.runChunk(
        c,
        withKwargs(args, {
          past_key_values: cache ?? undefined,
          use_cache: cache !== null,
          ...(c === this.lastChunk ? {} : { labels: undefined }),
        }),
        input,
      );
      if ("hidden" in r)
        sends.push(
          ...dist.batch_isend_irecv([new dist.P2POp(dist.isend, r.hidden.to(this.wire).contiguous(), this.rankOf(c + 1), group, c + 1)]),
        );
      else output = r.output as { loss?: unknown; logits?: unknown };
    }
    for (const w of sends) w.wait();
    cache?.advance(first.size(1));
    // The logits (and the loss) come from the last stage: first their shape and dtype, then the values.
    const logits = output?.logits instanceof Tensor ? output.logits.contiguous() : null;
    const header = tensor(logits === null ? [0, 0, 0, 0] : [...logits.shape, WIRE_DTYPES.indexOf(logits.dtype)], {
      dtype: int64,
      device: first.device,
    });
    this.fromLastStage(header);
    const [b, t, v, code] = header.tolist() as number[];
    const values = logits ?? empty([b, t, v], { dtype: WIRE_DTYPES[code], device: first.device });
    this.fromLastStage(values);
    let loss: Tensor | null = null;
    if (kwargs.labels instanceof Tensor) {
      loss =
        output?.loss instanceof Tensor
          ? output.loss.to({ dtype: float32, copy: true })
          : zeros([], { dtype: float32, device: first.device });
      this.fromLastStage(loss);
    }
    const out = pipelineOutput(loss, values, cache);
    if (loss !== null) globalizeLoss(out, kwargs, this.options.dp, this.options.dpGroup);
    return out;
  }

  // ---- checkpoints ---------------------------------------------------------------------------

  /**
   * The full state dict on the job's rank 0 (each later stage of its pipeline sends the tensors it
   * saves); other ranks keep their own stage's entries. Every rank calls it with its local dict.
   */
  gatherStateDict(local: StateDict, prefix: string): StateDict {
    const group = this.options.group;
    if (group === null || group.ranks[0] !== 0) return local;
    const device = Object.values(local)[0]?.device;
    if (this.stage === 0) {
      const out: StateDict = {};
      const ops: dist.P2POp[] = [];
      for (const { key, stage, shape, dtype: dt } of this.keys) {
        const name = `${prefix}${key}`;
        if (stage === 0) {
          if (name in local) out[name] = local[name];
          continue;
        }
        out[name] = empty(shape, { dtype: dt, device });
        ops.push(new dist.P2POp(dist.irecv, out[name], group.ranks[stage], group));
      }
      for (const w of dist.batch_isend_irecv(ops)) w.wait();
      return out;
    }
    const ops = this.keys
      .filter(({ stage }) => stage === this.stage)
      .map(
        ({ key, dtype: dt }) => new dist.P2POp(dist.isend, local[`${prefix}${key}`].to({ dtype: dt }).contiguous(), group.ranks[0], group),
      );
    for (const w of dist.batch_isend_irecv(ops)) w.wait();
    return local;
  }
}
