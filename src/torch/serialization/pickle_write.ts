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
  PROTO: 0x80, STOP: 0x2e, GLOBAL: 0x63, REDUCE: 0x52, MARK: 0x28, TUPLE: 0x74, EMPTY_TUPLE: 0x29,
  TUPLE1: 0x85, TUPLE2: 0x86, TUPLE3: 0x87, EMPTY_LIST: 0x5d, APPENDS: 0x65, EMPTY_DICT: 0x7d, SETITEMS: 0x75,
  NONE: 0x4e, NEWTRUE: 0x88, NEWFALSE: 0x89, BININT: 0x4a, BININT1: 0x4b, BININT2: 0x4d, LONG1: 0x8a,
  BINFLOAT: 0x47, BINUNICODE: 0x58, BINPERSID: 0x51, BINPUT: 0x71, LONG_BINPUT: 0x72, BINGET: 0x68, LONG_BINGET: 0x6a,
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

/** Serializes `value` to a protocol-2 pickle. */
export function pickle(value: unknown, hooks: PickleHooks): Uint8Array {
  const out = new ByteSink();
  const memo = new Map<unknown, number>();
  const globals = new Map<string, number>();
  // Guards against deep recursion on pathological nesting; Python's own limit is ~1000.
  let depth = 0;

  const put = (key: unknown): void => {
    const i = memo.size + globals.size;
    if (key instanceof PyGlobal) globals.set(`${key.module}\n${key.name}`, i);
    else memo.set(key, i);
    if (i < 256) out.op(O.BINPUT, i);
    else {
      out.op(O.LONG_BINPUT);
      out.u32(i);
    }
  };
  const get = (i: number): void => {
    if (i < 256) out.op(O.BINGET, i);
    else {
      out.op(O.LONG_BINGET);
      out.u32(i);
    }
  };
  const int = (v: bigint): void => {
    if (v >= 0n && v < 256n) out.op(O.BININT1, Number(v));
    else if (v >= 0n && v < 65536n) out.op(O.BININT2, Number(v & 0xffn), Number(v >> 8n));
    else if (v >= -(2n ** 31n) && v < 2n ** 31n) {
      out.op(O.BININT);
      out.i32(Number(v));
    } else {
      const b = longBytes(v);
      if (b.length > 255) throw new ValueError(`torch.save: integer ${v} is too large to pickle`);
      out.op(O.LONG1, b.length);
      out.bytes(b);
    }
  };
  const str = (s: string): void => {
    const b = enc.encode(s);
    out.op(O.BINUNICODE);
    out.u32(b.length);
    out.bytes(b);
  };
  const global = (g: PyGlobal): void => {
    const seen = globals.get(`${g.module}\n${g.name}`);
    if (seen !== undefined) return get(seen);
    out.op(O.GLOBAL);
    out.bytes(enc.encode(`${g.module}\n${g.name}\n`));
    put(g);
  };
  const tuple = (items: readonly unknown[]): void => {
    if (items.length === 0) return out.op(O.EMPTY_TUPLE);
    if (items.length > 3) out.op(O.MARK);
    for (const x of items) save(x);
    out.op(items.length === 1 ? O.TUPLE1 : items.length === 2 ? O.TUPLE2 : items.length === 3 ? O.TUPLE3 : O.TUPLE);
  };
  const batched = <T>(items: T[], opcode: number, write: (item: T) => void): void => {
    for (let i = 0; i < items.length; i += BATCH) {
      out.op(O.MARK);
      for (const item of items.slice(i, i + BATCH)) write(item);
      out.op(opcode);
    }
  };
  const reduce = (r: PyReduce): void => {
    global(r.fn);
    tuple(r.args);
  };

  function save(v: unknown): void {
    if (v === null || v === undefined) return out.op(O.NONE);
    if (typeof v === "boolean") return out.op(v ? O.NEWTRUE : O.NEWFALSE);
    if (typeof v === "bigint") return int(v);
    if (typeof v === "number") {
      if (Number.isSafeInteger(v)) return int(BigInt(v));
      out.op(O.BINFLOAT);
      return out.f64be(v);
    }
    if (typeof v === "string") return str(v);
    if (typeof v !== "object") throw new TypeError(`torch.save: cannot pickle a ${typeof v}`);
    if (v instanceof PyGlobal) return global(v);
    if (v instanceof PyTuple) return tuple(v.items);
    if (v instanceof PyPersistent) {
      tuple(v.pid.items);
      return out.op(O.BINPERSID);
    }
    const seen = memo.get(v);
    if (seen !== undefined) return get(seen);
    if (++depth > 1000) throw new ValueError("torch.save: object nesting is deeper than 1000 levels");
    try {
      saveObject(v);
    } finally {
      depth--;
    }
  }

  function saveObject(v: object): void {
    if (v instanceof PyReduce) {
      reduce(v);
      out.op(O.REDUCE);
      return put(v);
    }
    if (Array.isArray(v)) {
      out.op(O.EMPTY_LIST);
      put(v);
      return batched(v, O.APPENDS, save);
    }
    if (v instanceof Map || isPlainObject(v)) {
      out.op(O.EMPTY_DICT);
      put(v);
      const entries = v instanceof Map ? [...v.entries()] : Object.entries(v);
      return batched(entries, O.SETITEMS, ([k, x]) => {
        save(k);
        save(x);
      });
    }
    if (v instanceof Set) {
      reduce(new PyReduce(new PyGlobal("builtins", "set"), [[...v]]));
      out.op(O.REDUCE);
      return put(v);
    }
    if (v instanceof Uint8Array) {
      // Protocol 2 has no bytes opcode; Python itself writes _codecs.encode(latin-1 text, "latin1").
      reduce(new PyReduce(new PyGlobal("_codecs", "encode"), [latin1(v), "latin1"]));
      out.op(O.REDUCE);
      return put(v);
    }
    const r = hooks.reduce(v);
    if (r === undefined) throw new TypeError(`torch.save: cannot pickle an object of type ${v.constructor?.name ?? "unknown"}`);
    reduce(r);
    out.op(O.REDUCE);
    put(v);
  }

  out.op(O.PROTO, 2);
  save(value);
  out.op(O.STOP);
  return out.buf.subarray(0, out.length);
}
