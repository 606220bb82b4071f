// Sequential, ModuleList and ModuleDict. Sequential and ModuleList keep their modules as own
// properties "0", "1", ... (so `layers[0]` works and JS enumerates them in index order);
// ModuleDict keys are arbitrary strings, so it keeps an ordered Map instead.
import { IndexError } from "../../errors.js";
import type { Tensor } from "../../tensor.js";
import { Module } from "./module.js";

function checkModule(m: unknown, where: string): asserts m is Module {
  if (!(m instanceof Module)) throw new TypeError(`${where}: ${m === null ? "null" : typeof m} is not a Module subclass`);
}

/** The shared part of the index-keyed containers. */
abstract class IndexedModules<T extends Module> extends Module {
  [index: number]: T;

  // `override`: a callable Module's type carries Function's `length` (a module itself has none).
  override get length(): number {
    let n = 0;
    while (Object.prototype.hasOwnProperty.call(this, n)) n++;
    return n;
  }

  /** The module at `idx` (negative counts from the end), as Python's `seq[idx]`. */
  at(idx: number): T {
    const n = this.length;
    const i = idx < 0 ? idx + n : idx;
    if (!Number.isInteger(i) || i < 0 || i >= n) throw new IndexError(`index ${idx} is out of range`);
    return this[i];
  }

  append(module: T): this {
    checkModule(module, `${this.constructor.name}.append`);
    this[this.length] = module;
    return this;
  }

  extend(modules: Iterable<T>): this {
    for (const m of modules) this.append(m);
    return this;
  }

  insert(index: number, module: T): void {
    checkModule(module, `${this.constructor.name}.insert`);
    const n = this.length;
    const at = Math.min(Math.max(index < 0 ? index + n : index, 0), n);
    for (let i = n; i > at; i--) this[i] = this[i - 1];
    this[at] = module;
  }

  *[Symbol.iterator](): Generator<T> {
    const n = this.length;
    for (let i = 0; i < n; i++) yield this[i];
  }
}

/** `new nn.Sequential(m1, m2, ...)`; `forward(x)` feeds each module's output to the next. */
export class Sequential extends IndexedModules<Module> {
  constructor(...modules: Module[]) {
    super();
    for (const m of modules) this.append(m);
  }

  override forward(input: Tensor): Tensor {
    let x: unknown = input;
    for (const m of this) x = m.forward(x);
    return x as Tensor;
  }
}

export class ModuleList<T extends Module = Module> extends IndexedModules<T> {
  constructor(modules: Iterable<T> = []) {
    super();
    this.extend(modules);
  }
}

/** An ordered string-keyed map of modules; `md.get(key)` is Python's `md[key]`. */
export class ModuleDict<T extends Module = Module> extends Module {
  declare private readonly _dict: Map<string, T>;

  constructor(modules: Iterable<[string, T]> | Record<string, T> = {}) {
    super();
    Object.defineProperty(this, "_dict", { value: new Map(), enumerable: false });
    this.update(modules);
  }

  protected override _slots(): [string, unknown][] {
    return [...this._dict];
  }

  protected override _slotNames(): string[] {
    return [...this._dict.keys()];
  }

  protected override _slotValue(name: string): unknown {
    return this._dict.get(name);
  }

  protected override _setSlot(name: string, value: unknown): void {
    checkModule(value, "ModuleDict");
    this._dict.set(name, value as T);
  }

  get(key: string): T {
    const m = this._dict.get(key);
    if (m === undefined) throw new Error(`ModuleDict has no key '${key}'`);
    return m;
  }

  set(key: string, module: T): this {
    this.add_module(key, module);
    return this;
  }

  has(key: string): boolean {
    return this._dict.has(key);
  }

  pop(key: string): T {
    const m = this.get(key);
    this._dict.delete(key);
    return m;
  }

  clear(): void {
    this._dict.clear();
  }

  get size(): number {
    return this._dict.size;
  }

  keys(): IterableIterator<string> {
    return this._dict.keys();
  }

  values(): IterableIterator<T> {
    return this._dict.values();
  }

  items(): IterableIterator<[string, T]> {
    return this._dict.entries();
  }

  update(modules: Iterable<[string, T]> | Record<string, T>): void {
    const entries = Symbol.iterator in modules ? (modules as Iterable<[string, T]>) : Object.entries(modules);
    for (const [k, m] of entries) this.set(k, m);
  }

  [Symbol.iterator](): IterableIterator<string> {
    return this._dict.keys();
  }
}
