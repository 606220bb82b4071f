// torch.nn.Module. Python's __setattr__ registration has no TypeScript equivalent, so a module finds
// its parameters and submodules by scanning its own enumerable properties in insertion order (what
// `this.fc = new nn.Linear(...)` creates); buffers are named with register_buffer. The constructor
// replaces `forward` with an own accessor that runs the hooks around the subclass's method (or around a
// function assigned to `forward` later). Modules are callable, `module(x)` as Python's `__call__`: the
// constructor returns a function object whose prototype is the class's, so `instanceof`, subclassing
// and property registration behave as for a plain instance (bench/module_call.ts measures the call).
import { NotImplementedError, RuntimeError, ValueError } from "../../errors.js";
import { inspect } from "node:util";
import { Tensor, type RemovableHandle } from "../../tensor.js";
import { native } from "../../_native.js";
import { escape } from "../../memory.js";
import { dtype, bfloat16, float16, float32, float64 } from "../../dtype.js";
import { device, type DeviceLike } from "../../device.js";
import { no_grad } from "../../autograd/grad_mode.js";
import { Parameter } from "../parameter.js";
import { _before_use } from "../../moreh.js";
import { checkOptions } from "../../_options.js";

export type ForwardPreHook = (module: Module, args: unknown[]) => unknown;
export type ForwardHook = (module: Module, args: unknown[], output: unknown) => unknown;

/** What load_state_dict returns, as PyTorch's `_IncompatibleKeys`. */
export interface IncompatibleKeys {
  missing_keys: string[];
  unexpected_keys: string[];
}

export type StateDict = Record<string, Tensor>;

interface ModuleInternals {
  buffers: Set<string>;
  nonPersistent: Set<string>;
  preHooks: Map<number, ForwardPreHook>;
  hooks: Map<number, ForwardHook>;
}

let nextHookId = 0;

// Hooks the library registers that keep none of the arguments and output they are handed (they act
// on the module, not on its tensors): a module with only such hooks does not escape what it sees, so
// the scope it runs in still frees it.
const keepsNothing = new WeakSet<object>();

/** @internal Marks `hook` as keeping none of the tensors it is handed. */
export function _hook_keeps_nothing<T extends ForwardPreHook | ForwardHook>(hook: T): T {
  keepsNothing.add(hook);
  return hook;
}

function mayKeep(...maps: Map<number, unknown>[]): boolean {
  for (const map of maps) for (const hook of map.values()) if (!keepsNothing.has(hook as object)) return true;
  return false;
}

function hookHandle(map: Map<number, unknown>, hook: unknown, prepend: boolean): RemovableHandle {
  const id = nextHookId++;
  if (prepend) {
    const rest = [...map];
    map.clear();
    map.set(id, hook);
    for (const [k, v] of rest) map.set(k, v);
  } else {
    map.set(id, hook);
  }
  return { remove: () => void map.delete(id) };
}

function checkName(name: unknown, what: string, owner: Module): asserts name is string {
  if (typeof name !== "string") throw new TypeError(`${what} name should be a string. Got ${typeof name}`);
  if (name.includes(".")) throw new Error(`${what} name can't contain ".", got: ${name}`);
  if (name === "") throw new Error(`${what} name can't be empty string ""`);
  if (name === "forward" || (name in owner && !Object.prototype.hasOwnProperty.call(owner, name))) {
    throw new Error(`attribute '${name}' already exists`);
  }
}

function sizeString(shape: number[]): string {
  return `torch.Size([${shape.join(", ")}])`;
}

/**
 * `module(...args)` takes and returns what the module's `forward` does. A variadic `unknown` forward
 * (the base class's) takes nothing here, so that every subclass stays assignable to `Module` (call
 * signatures compare their parameters strictly, methods do not); generic code calls `m.forward(...)`.
 */
export type ModuleCall<M extends { forward(...args: never[]): unknown }> =
  unknown[] extends Parameters<M["forward"]>
    ? (...args: never[]) => ReturnType<M["forward"]>
    : (...args: Parameters<M["forward"]>) => ReturnType<M["forward"]>;

export interface Module {
  (...args: Parameters<ModuleCall<this>>): ReturnType<ModuleCall<this>>;
}

export class Module {
  declare training: boolean;
  declare private readonly _m: ModuleInternals;

  constructor() {
    const self = ((...args: unknown[]): unknown => self.forward(...args)) as unknown as this;
    // An arrow function's own `length` and `name` would shadow the class's (ModuleList's `length`)
    // and refuse assignment; a module has neither.
    delete (self as { length?: number }).length;
    delete (self as { name?: string }).name;
    Object.setPrototypeOf(self, new.target.prototype);
    self.training = true;
    const internals: ModuleInternals = { buffers: new Set(), nonPersistent: new Set(), preHooks: new Map(), hooks: new Map() };
    Object.defineProperty(self, "_m", { value: internals, enumerable: false });
    // At this point `self.forward` already resolves to the most derived class's method.
    let impl = self.forward as (...args: unknown[]) => unknown;
    const call = (...args: unknown[]): unknown => self._call_impl(impl, args);
    Object.defineProperty(self, "forward", {
      configurable: true,
      enumerable: false,
      get: () => call,
      set: (f: (...args: unknown[]) => unknown) => {
        impl = f;
      },
    });
    return self;
  }

  /** Override in subclasses (as a method, not a field); call it as `module.forward(...)`. */
  forward(..._args: unknown[]): unknown {
    throw new NotImplementedError(`Module [${this.constructor.name}] is missing the required "forward" function`);
  }

  private _call_impl(impl: (...args: unknown[]) => unknown, args: unknown[]): unknown {
    // A plan applied at this first use may have replaced forward (the executors wrap it): run that.
    if (_before_use(this)) return this.forward(...args);
    const { preHooks, hooks } = this._m;
    if (preHooks.size === 0 && hooks.size === 0) return impl.apply(this, args);
    // A hook may keep what it is handed; no scope the call runs in frees that.
    const keep = mayKeep(preHooks, hooks);
    if (keep) escape(args);
    for (const hook of [...preHooks.values()]) {
      const r = hook(this, args);
      if (r !== undefined && r !== null) args = Array.isArray(r) ? r : [r];
    }
    if (keep) escape(args);
    let out = impl.apply(this, args);
    if (keep) escape(out);
    for (const hook of [...hooks.values()]) {
      const r = hook(this, args, out);
      if (r !== undefined && r !== null) out = r;
    }
    return out;
  }

  register_forward_pre_hook(hook: ForwardPreHook, opts: { prepend?: boolean } = {}): RemovableHandle {
    checkOptions("Module.register_forward_pre_hook", opts, { prepend: true });
    return hookHandle(this._m.preHooks, hook, opts.prepend ?? false);
  }

  register_forward_hook(hook: ForwardHook, opts: { prepend?: boolean } = {}): RemovableHandle {
    checkOptions("Module.register_forward_hook", opts, { prepend: true });
    return hookHandle(this._m.hooks, hook, opts.prepend ?? false);
  }

  // ---- registration ------------------------------------------------------------------------

  /** The name/value pairs registration is read from; containers with arbitrary keys override it. */
  protected _slots(): [string, unknown][] {
    return Object.entries(this);
  }

  // The names of `_slots()` and one slot's value, for a walk that builds no pairs (zero_grad's, each
  // step); a container that overrides `_slots` overrides these too.
  protected _slotNames(): string[] {
    return Object.keys(this);
  }

  protected _slotValue(name: string): unknown {
    return (this as unknown as Record<string, unknown>)[name];
  }

  protected _setSlot(name: string, value: unknown): void {
    escape(value); // a module attribute outlives any scope the assignment ran in
    (this as unknown as Record<string, unknown>)[name] = value;
  }

  private _slot(name: string): unknown {
    for (const [k, v] of this._slots()) if (k === name) return v;
    return undefined;
  }

  register_buffer(name: string, tensor: Tensor | null, persistent = true): void {
    if (!this._m.buffers.has(name)) checkName(name, "buffer", this);
    if (tensor !== null && !(tensor instanceof Tensor)) {
      throw new TypeError(`cannot assign '${typeof tensor}' object to buffer '${name}' (torch Tensor or None required)`);
    }
    if (tensor instanceof Parameter) throw new Error(`attribute '${name}' already exists`);
    this._m.buffers.add(name);
    if (persistent) this._m.nonPersistent.delete(name);
    else this._m.nonPersistent.add(name);
    this._setSlot(name, tensor);
  }

  register_parameter(name: string, param: Parameter | null): void {
    checkName(name, "parameter", this);
    if (param !== null && !(param instanceof Parameter)) {
      const what: unknown = param;
      throw new TypeError(
        `cannot assign '${what instanceof Tensor ? "Tensor" : typeof what}' object to parameter '${name}' (torch.nn.Parameter or None required)`,
      );
    }
    this._setSlot(name, param);
  }

  register_module(name: string, module: Module | null): void {
    checkName(name, "module", this);
    if (module !== null && !(module instanceof Module)) throw new TypeError(`${typeof module} is not a Module subclass`);
    this._setSlot(name, module);
  }

  add_module(name: string, module: Module | null): void {
    this.register_module(name, module);
  }

  // ---- traversal ---------------------------------------------------------------------------

  private *_ownParameters(): Generator<[string, Parameter]> {
    for (const [k, v] of this._slots()) if (v instanceof Parameter && !this._m.buffers.has(k)) yield [k, v];
  }

  private *_ownBuffers(persistentOnly = false): Generator<[string, Tensor]> {
    for (const name of this._m.buffers) {
      if (persistentOnly && this._m.nonPersistent.has(name)) continue;
      const v = this._slot(name);
      if (v instanceof Tensor) yield [name, v];
    }
  }

  *named_children(): Generator<[string, Module]> {
    const seen = new Set<Module>();
    for (const [k, v] of this._slots()) {
      if (v instanceof Module && !seen.has(v)) {
        seen.add(v);
        yield [k, v];
      }
    }
  }

  *children(): Generator<Module> {
    for (const [, m] of this.named_children()) yield m;
  }

  *named_modules(memo: Set<Module> | null = new Set(), prefix = "", remove_duplicate = true): Generator<[string, Module]> {
    if (remove_duplicate && memo !== null) {
      if (memo.has(this)) return;
      memo.add(this);
    }
    yield [prefix, this];
    for (const [name, m] of this._slots()) {
      if (!(m instanceof Module)) continue;
      yield* m.named_modules(memo, prefix === "" ? name : `${prefix}.${name}`, remove_duplicate);
    }
  }

  *modules(): Generator<Module> {
    for (const [, m] of this.named_modules()) yield m;
  }

  private *_named_members<T>(
    members: (m: Module) => Iterable<[string, T]>,
    prefix: string,
    recurse: boolean,
    remove_duplicate: boolean,
  ): Generator<[string, T]> {
    const seen = new Set<T>();
    const mods: Iterable<[string, Module]> = recurse ? this.named_modules(new Set(), prefix, remove_duplicate) : [[prefix, this]];
    for (const [modPrefix, m] of mods) {
      for (const [k, v] of members(m)) {
        if (remove_duplicate) {
          if (seen.has(v)) continue;
          seen.add(v);
        }
        yield [modPrefix === "" ? k : `${modPrefix}.${k}`, v];
      }
    }
  }

  named_parameters({ prefix = "", recurse = true, remove_duplicate = true } = {}): Generator<[string, Parameter]> {
    _before_use(this);
    return this._named_members((m) => m._ownParameters(), prefix, recurse, remove_duplicate);
  }

  // parameters() as one array, without the names and nested generators of named_parameters, and
  // with one array of names per module rather than its name/value pairs: a per-step walk
  // (zero_grad) pays for those more than for the work it does, and what it allocates is where V8
  // finishes a pending collection (the pairs were ~60 KB a call on a 4-layer Llama, the names ~11 KB).
  private _parameterList(): Parameter[] {
    _before_use(this);
    const out: Parameter[] = [];
    const seen = new Set<Parameter>();
    const visited = new Set<Module>();
    const visit = (m: Module): void => {
      if (visited.has(m)) return;
      visited.add(m);
      const names = m._slotNames();
      for (const k of names) {
        const v = m._slotValue(k);
        if (v instanceof Parameter && !seen.has(v) && !m._m.buffers.has(k)) {
          seen.add(v);
          out.push(v);
        }
      }
      for (const k of names) {
        const v = m._slotValue(k);
        if (v instanceof Module) visit(v);
      }
    };
    visit(this);
    return out;
  }

  *parameters({ recurse = true } = {}): Generator<Parameter> {
    for (const [, p] of this.named_parameters({ recurse })) yield p;
  }

  named_buffers({ prefix = "", recurse = true, remove_duplicate = true } = {}): Generator<[string, Tensor]> {
    return this._named_members((m) => m._ownBuffers(), prefix, recurse, remove_duplicate);
  }

  *buffers({ recurse = true } = {}): Generator<Tensor> {
    for (const [, b] of this.named_buffers({ recurse })) yield b;
  }

  /** `get_submodule("encoder.layers.0")`, as in PyTorch. */
  get_submodule(target: string): Module {
    if (target === "") return this;
    let mod: Module = this;
    for (const item of target.split(".")) {
      const next = mod._slot(item);
      if (!(next instanceof Module)) throw new Error(`${mod.constructor.name} has no attribute \`${item}\``);
      mod = next;
    }
    return mod;
  }

  get_parameter(target: string): Parameter {
    const dot = target.lastIndexOf(".");
    const mod = this.get_submodule(dot < 0 ? "" : target.slice(0, dot));
    const name = target.slice(dot + 1);
    const p = mod._slot(name);
    if (!(p instanceof Parameter)) throw new Error(`\`${name}\` is not an nn.Parameter`);
    return p;
  }

  // ---- modes and in-place changes -------------------------------------------------------------

  train(mode = true): this {
    if (typeof mode !== "boolean") throw new ValueError("training mode is expected to be boolean");
    this.training = mode;
    for (const m of this.children()) m.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  apply(fn: (module: Module) => void): this {
    for (const m of this.children()) m.apply(fn);
    fn(this);
    return this;
  }

  requires_grad_(requires_grad = true): this {
    for (const p of this.parameters()) p.requires_grad_(requires_grad);
    return this;
  }

  zero_grad(opts: { set_to_none?: boolean } = {}): void {
    checkOptions("Module.zero_grad", opts, { set_to_none: true });
    const { set_to_none = true } = opts;
    native.zeroGrads(this._parameterList(), set_to_none);
  }

  /** Applies `fn` to every parameter (in place, keeping the Parameter objects), grad and buffer. */
  protected _apply(fn: (t: Tensor) => Tensor): this {
    for (const m of this.children()) m._apply(fn);
    no_grad(() => {
      for (const [, p] of this._ownParameters()) {
        p.data = fn(p);
        const g = p.grad;
        if (g !== null) g.data = fn(g);
      }
      for (const [name, b] of this._ownBuffers()) this._setSlot(name, fn(b));
    });
    return this;
  }

  /** `to(device)`, `to(dtype)`, `to(device, dtype)`, `to(tensor)` or `to({device, dtype, non_blocking})`. */
  to(target: DeviceLike | dtype | Tensor | ModuleToOptions, dtypeArg?: dtype | ModuleToOptions): this {
    const o: ModuleToOptions = {};
    if (target instanceof Tensor) Object.assign(o, { device: target.device, dtype: target.dtype });
    else if (target instanceof dtype) o.dtype = target;
    else if (typeof target === "string" || target instanceof device) o.device = target;
    else Object.assign(o, checkedToOptions(target));
    if (dtypeArg instanceof dtype) o.dtype = dtypeArg;
    else if (dtypeArg !== undefined) Object.assign(o, checkedToOptions(dtypeArg));
    const dt = o.dtype;
    if (dt !== undefined && !(dt.is_floating_point || dt.is_complex)) {
      throw new TypeError(`nn.Module.to only accepts floating point or complex dtypes, but got desired dtype=${dt}`);
    }
    return this._apply((t) =>
      t.to({
        device: o.device,
        dtype: t.dtype.is_floating_point || t.dtype.is_complex ? dt : undefined,
        non_blocking: o.non_blocking ?? false,
      }),
    );
  }

  cuda(index?: number): this {
    return this._apply((t) => t.cuda(index));
  }

  cpu(): this {
    return this._apply((t) => t.cpu());
  }

  type(dst: dtype): this {
    return this._apply((t) => t.to(dst));
  }

  private _castFloating(dst: dtype): this {
    return this._apply((t) => (t.dtype.is_floating_point ? t.to(dst) : t));
  }

  float(): this {
    return this._castFloating(float32);
  }

  double(): this {
    return this._castFloating(float64);
  }

  half(): this {
    return this._castFloating(float16);
  }

  bfloat16(): this {
    return this._castFloating(bfloat16);
  }

  // ---- state dict --------------------------------------------------------------------------

  /** Parameters (detached unless keep_vars) and persistent buffers by dotted name. */
  state_dict(opts: { prefix?: string; keep_vars?: boolean } = {}): StateDict {
    checkOptions("Module.state_dict", opts, { prefix: true, keep_vars: true });
    const { prefix = "", keep_vars = false } = opts;
    _before_use(this);
    const out: StateDict = {};
    const visit = (m: Module, pre: string): void => {
      for (const [k, p] of m._ownParameters()) out[pre + k] = keep_vars ? p : p.detach();
      for (const [k, b] of m._ownBuffers(true)) out[pre + k] = keep_vars ? b : b.detach();
      for (const [k, c] of m._slots()) if (c instanceof Module) visit(c, `${pre}${k}.`);
    };
    visit(this, prefix);
    return out;
  }

  /**
   * Copies parameters and buffers from `state_dict`. Shape mismatches are errors; with `strict`,
   * missing and unexpected keys are too. Returns the missing and unexpected keys.
   */
  load_state_dict(state_dict: StateDict, strict = true, assign = false): IncompatibleKeys {
    const missing_keys: string[] = [];
    const unexpected_keys: string[] = [];
    const errors: string[] = [];
    const visit = (m: Module, pre: string): void => {
      const local = new Map<string, Tensor>([...m._ownParameters(), ...m._ownBuffers(true)]);
      for (const [name, param] of local) {
        const key = pre + name;
        if (!Object.prototype.hasOwnProperty.call(state_dict, key)) {
          missing_keys.push(key);
          continue;
        }
        const input = state_dict[key];
        if (!(input instanceof Tensor)) {
          errors.push(
            `While copying the parameter named "${key}", expected torch.Tensor or Tensor-like object from checkpoint but received ${typeof input}`,
          );
          continue;
        }
        if (input.shape.length !== param.shape.length || input.shape.some((s, i) => s !== param.shape[i])) {
          errors.push(
            `size mismatch for ${key}: copying a param with shape ${sizeString(input.shape)} from checkpoint, the shape in current model is ${sizeString(param.shape)}.`,
          );
          continue;
        }
        try {
          if (assign) m._setSlot(name, param instanceof Parameter ? new Parameter(input, param.requires_grad) : input);
          else no_grad(() => param.copy_(input));
        } catch (e) {
          errors.push(
            `While copying the parameter named "${key}", whose dimensions in the model are ${sizeString(param.shape)} and whose dimensions in the checkpoint are ${sizeString(input.shape)}, an exception occurred : ${(e as Error).message}.`,
          );
        }
      }
      const children = new Set<string>();
      for (const [k, c] of m._slots()) if (c instanceof Module) children.add(k);
      for (const key of Object.keys(state_dict)) {
        if (!key.startsWith(pre)) continue;
        const rest = key.slice(pre.length);
        const head = rest.split(".", 1)[0];
        if (!children.has(head) && !local.has(rest)) unexpected_keys.push(key);
      }
      for (const [k, c] of m._slots()) if (c instanceof Module) visit(c, `${pre}${k}.`);
    };
    visit(this, "");
    if (strict) {
      if (unexpected_keys.length > 0)
        errors.unshift(`Unexpected key(s) in state_dict: ${unexpected_keys.map((k) => `"${k}"`).join(", ")}. `);
      if (missing_keys.length > 0) errors.unshift(`Missing key(s) in state_dict: ${missing_keys.map((k) => `"${k}"`).join(", ")}. `);
    }
    if (errors.length > 0) throw new RuntimeError(`Error(s) in loading state_dict for ${this.constructor.name}:\n\t${errors.join("\n\t")}`);
    return { missing_keys, unexpected_keys };
  }

  // ---- printing ----------------------------------------------------------------------------

  /** The text inside the parentheses of this module's repr, as PyTorch's `extra_repr`. */
  extra_repr(): string {
    return "";
  }

  toString(): string {
    const lines: string[] = [];
    const extra = this.extra_repr();
    if (extra) lines.push(...extra.split("\n"));
    for (const [name, m] of this._slots()) {
      if (m instanceof Module) lines.push(`(${name}): ${String(m).split("\n").join("\n  ")}`);
    }
    const name = this.constructor.name;
    if (lines.length === 0) return `${name}()`;
    if (lines.length === 1 && extra && !extra.includes("\n")) return `${name}(${extra})`;
    return `${name}(\n  ${lines.join("\n  ")}\n)`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

export interface ModuleToOptions {
  device?: DeviceLike;
  dtype?: dtype;
  non_blocking?: boolean;
}

function checkedToOptions(o: ModuleToOptions): ModuleToOptions {
  checkOptions("Module.to", o, { device: true, dtype: true, non_blocking: true });
  return o;
}
