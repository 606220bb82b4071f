// Sharded data parallelism applied to a model from outside its code (ZeRO-1/2/3, FSDP-style, with
// hybrid sharding, mixed precision and offload): the model's parameters become flat units
// (flat_unit.ts), one per decoder layer plus one for the rest (the root), whose chunks replace
// them as the model's parameters; forward hooks gather each unit just before its module runs and,
// under ZeRO-3, free it right after and gather it again just before its backward. state_dict()
// gives the full tensors under their original names, so save_pretrained writes the folder one
// process would write.
import "../../torch/_generated/tensor_methods.js";
import { is_grad_enabled } from "../../torch/autograd/grad_mode.js";
import { device } from "../../torch/device.js";
import { float32, type dtype } from "../../torch/dtype.js";
import { _hook_keeps_nothing, Module, type StateDict } from "../../torch/nn/modules/module.js";
import { native } from "../../torch/_native.js";
import { scope } from "../../torch/memory.js";
import { _is_recomputing } from "../../torch/utils/checkpoint.js";
import { Tensor } from "../../torch/tensor.js";
import { FlatUnit, ReduceQueue, type ShardingLayout } from "./flat_unit.js";

export type UnitLayout = Omit<ShardingLayout, "computeDtype" | "masterDtype" | "computeDevice" | "masterDevice"> & {
  /** Keep the master chunks and the optimizer step in CPU memory. */
  offload: boolean;
  /** Parameters that get units of their own (tensor-parallel slices: their norms reduce over more ranks). */
  apart?: (owner: Module, attr: string) => boolean;
};

type Owners = Array<[Module, string]>;

/**
 * Reads a parameter's weights when a model is built sharded (its declared parameters are on the
 * meta device): `names` are the state-dict names it is held under, `like` the declared tensor
 * (shape and dtype). Returns the tensor on the device the model computes on.
 */
export type ParamSource = (names: string[], like: Tensor) => Tensor;

/** Every parameter of `model` with the (module, attribute) pairs holding it, tied ones once. */
export function parameterOwners(model: Module): Map<Tensor, Owners> {
  const owners = new Map<Tensor, Owners>();
  for (const [, m] of model.named_modules(null, "", false)) {
    for (const [name, p] of m.named_parameters({ recurse: false, remove_duplicate: false })) {
      const list = owners.get(p) ?? [];
      if (!list.some(([o, n]) => o === m && n === name)) list.push([m, name]);
      owners.set(p, list);
    }
  }
  return owners;
}

function tensorsIn(value: unknown, out: Tensor[] = []): Tensor[] {
  if (value instanceof Tensor) out.push(value);
  else if (Array.isArray(value)) for (const v of value) tensorsIn(v, out);
  else if (value !== null && typeof value === "object") for (const v of Object.values(value)) tensorsIn(v, out);
  return out;
}

/** The attribute name of a unit's chunk on its module (FSDP's name). */
export const FLAT_PARAM = "_flat_param";
const isFlatKey = (key: string): boolean => /(^|\.)_flat_param(_\d+)?$/.test(key);

/**
 * Host blocks from this size up are mapped on their own: the units' gathered buffers and gradients
 * are freed and allocated again every step, and glibc's own threshold (raised to the largest block
 * freed, up to 32 MiB) would put them in a heap that never shrinks. Measured on a 34M-parameter
 * Llama under ZeRO-3 on 2 ranks: 1.2 GiB RSS per rank without it, 0.5 GiB with it.
 */
const MMAP_THRESHOLD = 4 * 1024 * 1024;

const is16bit = (dt: dtype): boolean => dt.name === "bfloat16" || dt.name === "float16";

export class ShardedModel {
  /** Per module that runs as one unit (the root model first): its flat units. */
  readonly units = new Map<Module, FlatUnit[]>();
  private readonly names = new Map<Module, string>();
  /** The root unit's gathered weights in the current forward: the layers' nodes take them as an input. */
  private anchor: Tensor | null = null;
  /** The dtype each parameter had (what state_dict gives back), per unit entry. */
  private readonly originalDtype = new Map<FlatUnit, dtype>();

  /**
   * Shards `model`: each of `layers` (its decoder layers) is a unit, the parameters outside them
   * form the root unit. 16-bit parameters compute in their dtype with fp32 masters.
   */
  constructor(
    readonly model: Module,
    layers: Module[],
    readonly layout: UnitLayout,
    source?: ParamSource,
  ) {
    native.setMmapThreshold(MMAP_THRESHOLD);
    for (const [name, m] of model.named_modules()) this.names.set(m, name);
    const owners = parameterOwners(model);
    const unitOf = new Map<Tensor, Module>();
    for (const layer of layers) for (const p of layer.parameters()) unitOf.set(p, layer);
    // A parameter a layer shares with the rest of the model (a tied weight) belongs to the root.
    for (const [p, list] of owners) if (list.some(([m]) => !layers.some((l) => this.insideOf(m, l)))) unitOf.delete(p);
    const groups = new Map<Module, Map<string, Tensor[]>>([[model, new Map()]]);
    for (const layer of layers) groups.set(layer, new Map());
    for (const p of owners.keys()) {
      const home = unitOf.get(p) ?? model;
      // One flat buffer holds one dtype on one device, trained or frozen.
      const key = `${p.dtype.name}|${String(p.device)}|${p.requires_grad}|${owners.get(p)!.some(([m, n]) => layout.apart?.(m, n) === true)}`;
      const byKey = groups.get(home)!;
      byKey.set(key, [...(byKey.get(key) ?? []), p]);
    }
    for (const [home, byKey] of groups) {
      const list: FlatUnit[] = [];
      for (const declared of byKey.values()) {
        // Built sharded: a unit's weights are read only now, one unit at a time.
        // (In a scope: a reader's intermediate handles must not keep the weights' memory until a GC.)
        const params = source === undefined ? declared : scope(() => declared.map((p) => source(this.ownerNames(owners.get(p)!), p)));
        const dt = params[0].dtype;
        const dev = params[0].device;
        const unit = new FlatUnit(
          `${this.names.get(home) || "(root)"}#${list.length}`,
          params.map((param, i) => ({ param, owners: owners.get(declared[i])! })),
          {
            ...layout,
            computeDtype: dt,
            masterDtype: is16bit(dt) ? float32 : dt,
            computeDevice: dev,
            masterDevice: layout.offload ? new device("cpu") : dev,
          },
        );
        this.originalDtype.set(unit, dt);
        list.push(unit);
        // The flat buffer now holds these weights: their memory goes now, not at the next garbage
        // collection (a rank must not hold the whole model once it is sharded).
        for (const p of new Set([...declared, ...params])) p.dispose();
        home.register_parameter(list.length === 1 ? FLAT_PARAM : `${FLAT_PARAM}_${list.length - 1}`, unit.shard);
      }
      if (list.length > 0) this.units.set(home, list);
    }
    const queue = new ReduceQueue();
    for (const [home, list] of this.units) {
      for (const u of list) {
        u.queue = queue;
        u.isRoot = home === model;
      }
    }
    const order = layers.filter((l) => this.units.has(l));
    for (const [home, list] of this.units) this.hook(home, list, home === model, order);
    // The attributes start as views of the gathered weights, so that their shapes and dtypes read as before.
    for (const list of this.units.values()) {
      for (const u of list) {
        u.gather();
        u.materialize();
        if (layout.zero === 3) u.release();
      }
    }
  }

  /** The state-dict names a parameter is held under. */
  private ownerNames(list: Owners): string[] {
    return list.map(([m, n]) => {
      const at = this.names.get(m) ?? "";
      return at === "" ? n : `${at}.${n}`;
    });
  }

  private insideOf(m: Module, layer: Module): boolean {
    const a = this.names.get(m);
    const b = this.names.get(layer);
    return a !== undefined && b !== undefined && (a === b || a.startsWith(`${b}.`));
  }

  private hook(home: Module, list: FlatUnit[], root: boolean, order: Module[]): void {
    const zero3 = this.layout.zero === 3;
    const at = order.indexOf(home);
    const prefetch = (m: Module | undefined): void => {
      if (m !== undefined) for (const u of this.units.get(m) ?? []) u.prefetch();
    };
    home.register_forward_pre_hook(
      _hook_keeps_nothing(() => {
        const recomputing = _is_recomputing();
        if (root) {
          this.anchor = null;
          for (const u of list) {
            const out = u.materialize();
            if (u.trainable && !recomputing && is_grad_enabled()) this.anchor = out;
          }
          prefetch(order[0]);
        } else {
          // A recomputation runs inside backward: its nodes must not wait for the root's.
          for (const u of list) u.materialize(recomputing ? null : this.anchor);
          if (!recomputing) prefetch(order[at + 1]);
        }
        return undefined;
      }),
    );
    if (!zero3) return;
    home.register_forward_hook((_m, _args, output) => {
      const needGrad = tensorsIn(output).filter((t) => t.requires_grad);
      // The root's weights are used again first thing in backward (the head): they stay until then;
      // so do a recomputed layer's, whose backward follows at once (its reduce frees them).
      if ((root && needGrad.length > 0 && is_grad_enabled()) || _is_recomputing()) return undefined;
      for (const u of list) u.release();
      for (const t of needGrad) {
        t.register_hook(() => {
          for (const u of list) u.gather();
          // Backward runs the layers in reverse: the one before is next.
          if (at > 0) prefetch(order[at - 1]);
          return undefined;
        });
      }
      return undefined;
    });
  }

  /** Every flat unit, root first. */
  allUnits(): FlatUnit[] {
    return [...this.units.values()].flat();
  }

  /** Full tensors under their original names (a collective over the shard group), and the model's buffers. */
  stateDict(prefix = ""): StateDict {
    const out: StateDict = {};
    for (const u of this.allUnits()) {
      const values = u.fullTensors(this.originalDtype.get(u)!);
      u.entries.forEach((e, i) => {
        for (const [m, n] of e.owners) {
          const at = this.names.get(m) ?? "";
          out[`${prefix}${at === "" ? "" : `${at}.`}${n}`] = values[i];
        }
      });
    }
    // The model's own state_dict still has its persistent buffers (and the chunks, left out).
    const rest = Module.prototype.state_dict.call(this.model, { prefix });
    for (const [key, t] of Object.entries(rest)) if (!isFlatKey(key)) out[key] = t;
    return out;
  }

  /** Bytes this rank holds for weights and for gradients, over every unit. */
  stateBytes(): { weights: number; gradients: number } {
    let weights = 0;
    let gradients = 0;
    for (const u of this.allUnits()) {
      weights += u.weightBytes();
      gradients += u.gradientBytes();
    }
    return { weights, gradients };
  }
}
