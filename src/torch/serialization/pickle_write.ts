// A pickler for protocol 2 (PyTorch's default) over the JS values torch.save accepts. JS → Python:
// null/undefined → None, boolean → bool, integral number or bigint → int, other number → float,
// string → str, Array → list, plain object → dict (string keys), Map → dict, Set → set,
// Uint8Array → bytes. The caller turns other objects (tensors) into `PyReduce`s and persistent ids.
// A repeated object is written once and referenced (memo), so sharing and cycles survive.
import { ValueError } from "../errors.js";
import { latin1 } from "./pickle_read.js";

/** A Python global, written as GLOBAL `module name`. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
}

/** A Python tuple (JS arrays pickle as lists). */
export class PyTuple {
  constructor(readonly items: readonly unknown[]) {}
}

/** `fn(*args)`, written as GLOBAL, args tuple, REDUCE. */
export class PyReduce {
  constructor(
    readonly fn: PyGlobal,
    readonly args: readonly unknown[],
  ) {}
}

/** A value written as a persistent id (torch.save: a storage record reference). */
export class PyPersistent {
  constructor(readonly pid: PyTuple) {}
}

export interface PickleHooks {
  /** Replaces an object the pickler does not know (e.g. a Tensor); undefined → TypeError. */
  reduce(obj: object): PyReduce | undefined;
}

class ByteSink {
  buf = new Uint8Array(1024);
  length = 0;
  private view = new DataView(this.buf.buffer);

  private reserve(n: number): number {
    if (this.length + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }
  op(...codes: number[]): void {
    const at = this.reserve(codes.length); // first: it may replace buf
    this.buf.set(codes, at);
  }
  bytes(b: Uint8Array): void {
    const at = this.reserve(b.length);
    this.buf.set(b, at);
  }
  u32(v: number): void {
    const at = this.reserve(4);
    this.view.setUint32(at, v, true);
  }
  i32(v: number): void {
    const at = this.reserve(4);
    this.view.setInt32(at, v, true);
  }
  f64be(v: number): void {
    const at = this.reserve(8);
    this.view.setFloat64(at, v, false);
  }
}

const enc = new TextEncoder();
const O = {
  PROTO: 0x80,
  STOP: 0x2e,
  GLOBAL: 0x63,
  REDUCE: 0x52,
  MARK: 0x28,
  TUPLE: 0x74,
  EMPTY_TUPLE: 0x29,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  EMPTY_LIST: 0x5d,
  APPENDS: 0x65,
  EMPTY_DICT: 0x7d,
  SETITEMS: 0x75,
  NONE: 0x4e,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  BININT: 0x4a,
  BININT1: 0x4b,
  BININT2: 0x4d,
  LONG1: 0x8a,
  BINFLOAT: 0x47,
  BINUNICODE: 0x58,
  BINPERSID: 0x51,
  BINPUT: 0x71,
  LONG_BINPUT: 0x72,
  BINGET: 0x68,
  LONG_BINGET: 0x6a,
} as const;
// Python batches APPENDS/SETITEMS by 1000 so that unpicklers never need a huge mark.
const BATCH = 1000;

function longBytes(v: bigint): Uint8Array {
  if (v === 0n) return new Uint8Array(0);
  const out: number[] = [];
  let x = v;
  for (;;) {
    out.push(Number(x & 0xffn));
    x >>= 8n;
    const signBit = (out[out.length - 1] & 0x80) !== 0;
    if ((x === 0n && !signBit) || (x === -1n && signBit)) break;
  }
  return Uint8Array.from(out);
}

function isPlainObject(v: object): v is Record<string, unknown> {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** The pickler's state (output, memo, nesting depth) and one writer per kind of value. */
class Pickler {
  readonly out = new ByteSink();
  private readonly memo = new Map<unknown, number>();
  private readonly globals = new Map<string, number>();
  // Guards against deep recursion on pathological nesting; Python's own limit is ~1000.
  private depth = 0;

  constructor(private readonly hooks: PickleHooks) {}

  /** Memoizes `key` (an object, or a global by name) under the next index. */
  private put(key: unknown): void {
    const i = this.memo.size + this.globals.size;
    if (key instanceof PyGlobal) this.globals.set(`${key.module}\n${key.name}`, i);
    else this.memo.set(key, i);
    if (i < 256) this.out.op(O.BINPUT, i);
    else {
      this.out.op(O.LONG_BINPUT);
      this.out.u32(i);
    }
  }

  private get(i: number): void {
    if (i < 256) this.out.op(O.BINGET, i);
    else {
      this.out.op(O.LONG_BINGET);
      this.out.u32(i);
    }
  }

  int(v: bigint): void {
    if (v >= 0n && v < 256n) this.out.op(O.BININT1, Number(v));
    else if (v >= 0n && v < 65536n) this.out.op(O.BININT2, Number(v & 0xffn), Number(v >> 8n));
    else if (v >= -(2n ** 31n) && v < 2n ** 31n) {
      this.out.op(O.BININT);
      this.out.i32(Number(v));
    } else {
      const b = longBytes(v);
      if (b.length > 255) throw new ValueError(`torch.save: integer ${v} is too large to pickle`);
      this.out.op(O.LONG1, b.length);
      this.out.bytes(b);
    }
  }

  number(v: number): void {
    if (Number.isSafeInteger(v)) return this.int(BigInt(v));
    this.out.op(O.BINFLOAT);
    this.out.f64be(v);
  }

  str(s: string): void {
    const b = enc.encode(s);
    this.out.op(O.BINUNICODE);
    this.out.u32(b.length);
    this.out.bytes(b);
  }

  global(g: PyGlobal): void {
    const seen = this.globals.get(`${g.module}\n${g.name}`);
    if (seen !== undefined) return this.get(seen);
    this.out.op(O.GLOBAL);
    this.out.bytes(enc.encode(`${g.module}\n${g.name}\n`));
    this.put(g);
  }

  tuple(items: readonly unknown[]): void {
    if (items.length === 0) return this.out.op(O.EMPTY_TUPLE);
    if (items.length > 3) this.out.op(O.MARK);
    for (const x of items) this.save(x);
    this.out.op(items.length === 1 ? O.TUPLE1 : items.length === 2 ? O.TUPLE2 : items.length === 3 ? O.TUPLE3 : O.TUPLE);
  }

  persistent(p: PyPersistent): void {
    this.tuple(p.pid.items);
    this.out.op(O.BINPERSID);
  }

  private batched<T>(items: T[], opcode: number, write: (item: T) => void): void {
    for (let i = 0; i < items.length; i += BATCH) {
      this.out.op(O.MARK);
      for (const item of items.slice(i, i + BATCH)) write(item);
      this.out.op(opcode);
    }
  }

  /** `obj` as `fn(*args)`: GLOBAL, the args tuple, REDUCE, memoized as `obj`. */
  reduce(obj: object, r: PyReduce): void {
    this.global(r.fn);
    this.tuple(r.args);
    this.out.op(O.REDUCE);
    this.put(obj);
  }

  list(v: unknown[]): void {
    this.out.op(O.EMPTY_LIST);
    this.put(v);
    this.batched(v, O.APPENDS, (x) => this.save(x));
  }

  dict(v: Map<unknown, unknown> | Record<string, unknown>): void {
    this.out.op(O.EMPTY_DICT);
    this.put(v);
    const entries = v instanceof Map ? [...v.entries()] : Object.entries(v);
    this.batched(entries, O.SETITEMS, ([k, x]) => {
      this.save(k);
      this.save(x);
    });
  }

  save(v: unknown): void {
    if (v === null || v === undefined) return this.out.op(O.NONE);
    const scalar = Object.hasOwn(SCALARS, typeof v) ? SCALARS[typeof v] : undefined;
    // The tables pair each writer with its test, which the types cannot express: hence `as never`.
    if (scalar !== undefined) return scalar(this, v as never);
    if (typeof v !== "object") throw new TypeError(`torch.save: cannot pickle a ${typeof v}`);
    // Written inline each time: globals memoize by name, tuples and persistent ids are values.
    if (v instanceof PyGlobal) return this.global(v);
    if (v instanceof PyTuple) return this.tuple(v.items);
    if (v instanceof PyPersistent) return this.persistent(v);
    const seen = this.memo.get(v);
    if (seen !== undefined) return this.get(seen);
    if (++this.depth > 1000) throw new ValueError("torch.save: object nesting is deeper than 1000 levels");
    try {
      const write = OBJECTS.find(([is]) => is(v));
      if (write !== undefined) return write[1](this, v as never);
      const r = this.hooks.reduce(v);
      if (r === undefined) throw new TypeError(`torch.save: cannot pickle an object of type ${v.constructor?.name ?? "unknown"}`);
      this.reduce(v, r);
    } finally {
      this.depth--;
    }
  }
}

/** Writers for the primitive types, by `typeof`. */
const SCALARS: Readonly<Record<string, (p: Pickler, v: never) => void>> = {
  boolean: (p, v: boolean) => p.out.op(v ? O.NEWTRUE : O.NEWFALSE),
  bigint: (p, v: bigint) => p.int(v),
  number: (p, v: number) => p.number(v),
  string: (p, v: string) => p.str(v),
};

/** Writers for objects, first match wins; anything else goes to the caller's `reduce` hook. */
const OBJECTS: readonly [(v: object) => boolean, (p: Pickler, v: never) => void][] = [
  [(v) => v instanceof PyReduce, (p, v: PyReduce) => p.reduce(v, v)],
  [(v) => Array.isArray(v), (p, v: unknown[]) => p.list(v)],
  [(v) => v instanceof Map || isPlainObject(v), (p, v: Map<unknown, unknown> | Record<string, unknown>) => p.dict(v)],
  [(v) => v instanceof Set, (p, v: Set<unknown>) => p.reduce(v, new PyReduce(new PyGlobal("builtins", "set"), [[...v]]))],
  // Protocol 2 has no bytes opcode; Python itself writes _codecs.encode(latin-1 text, "latin1").
  [
    (v) => v instanceof Uint8Array,
    (p, v: Uint8Array) => p.reduce(v, new PyReduce(new PyGlobal("_codecs", "encode"), [latin1(v), "latin1"])),
  ],
];

/** Serializes `value` to a protocol-2 pickle. */
export function pickle(value: unknown, hooks: PickleHooks): Uint8Array {
  const p = new Pickler(hooks);
  p.out.op(O.PROTO, 2);
  p.save(value);
  p.out.op(O.STOP);
  return p.out.buf.subarray(0, p.out.length);
}
