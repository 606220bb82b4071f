// A strict unpickler in the spirit of PyTorch's `weights_only=True`: it interprets the opcodes
// that torch.save emits (protocols 2–5) as a plain stack machine, resolves GLOBALs only through
// the caller's allow-list, and calls nothing but allow-listed `PyCallable`s. Nothing in a pickle can
// run code. Every read is bounds-checked; the stream is read once, front to back, so a load ends in
// time proportional to its size.

/** A Python callable that a pickle may REDUCE/NEWOBJ (only the allow-list creates these). */
export class PyCallable {
  constructor(
    readonly qualname: string,
    readonly call: (args: readonly unknown[]) => unknown,
  ) {}
}

/** A Python dict (or OrderedDict) while unpickling: keys of any hashable plain type. */
export class PyDict {
  readonly items = new Map<PyKey, unknown>();
}

export type PyKey = string | number | bigint | boolean | null;

export interface UnpickleHooks {
  /** The value for GLOBAL `module.name`; throws when it is not allowed. */
  findGlobal(module: string, name: string): unknown;
  /** The object a persistent id stands for (torch.save: a storage). */
  persistentLoad(pid: unknown): unknown;
}

export class UnpicklingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnpicklingError";
  }
}

const MARK = Symbol("mark");

const utf8 = new TextDecoder("utf-8", { fatal: true });
// Byte i → code point i (TextDecoder's "latin1" is really windows-1252).
export function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}

function isKey(k: unknown): k is PyKey {
  const t = typeof k;
  return k === null || t === "string" || t === "number" || t === "bigint" || t === "boolean";
}

function intFromBytes(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return normalizeInt(v);
}

export function normalizeInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** The unpickler's state and the primitives its opcode handlers share: bounds-checked reads, the stack, marks and memo. */
class Machine {
  private readonly view: DataView;
  pos = 0;
  stack: unknown[] = [];
  readonly marks: unknown[][] = [];
  readonly memo = new Map<number, unknown>();
  /** Set by STOP. */
  done = false;
  result: unknown;

  constructor(
    readonly data: Uint8Array,
    readonly hooks: UnpickleHooks,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  fail(problem: string): never {
    throw new UnpicklingError(`pickle data is invalid at byte ${this.pos}: ${problem}`);
  }

  need(n: number): number {
    if (n < 0 || this.pos + n > this.data.length)
      this.fail(`needs ${n} more bytes but the stream ends at byte ${this.data.length} (truncated)`);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(): number {
    return this.data[this.need(1)];
  }

  u16(): number {
    return this.view.getUint16(this.need(2), true);
  }

  u32(): number {
    return this.view.getUint32(this.need(4), true);
  }

  i32(): number {
    return this.view.getInt32(this.need(4), true);
  }

  f64be(): number {
    return this.view.getFloat64(this.need(8), false);
  }

  u64(): number {
    const v = this.view.getBigUint64(this.need(8), true);
    return v > BigInt(this.data.length) ? this.fail(`length ${v} exceeds the stream`) : Number(v);
  }

  bytes(n: number): Uint8Array {
    return this.data.subarray(this.need(n), this.pos);
  }

  line(): string {
    const end = this.data.indexOf(0x0a, this.pos);
    if (end < 0) this.fail("unterminated GLOBAL name");
    const s = latin1(this.data.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }

  str(b: Uint8Array): string {
    try {
      return utf8.decode(b);
    } catch {
      return this.fail("string is not valid UTF-8");
    }
  }

  push(v: unknown): void {
    this.stack.push(v);
  }

  pop(): unknown {
    if (this.stack.length === 0) this.fail("stack underflow");
    return this.stack.pop();
  }

  top(): unknown {
    if (this.stack.length === 0) this.fail("stack underflow");
    return this.stack[this.stack.length - 1];
  }

  /** The items pushed since the last MARK; the stack before it becomes current again. */
  popMark(): unknown[] {
    const items = this.stack;
    const prev = this.marks.pop();
    if (prev === undefined) this.fail("MARK expected");
    this.stack = prev;
    return items;
  }

  call(fn: unknown, args: unknown, op: string): unknown {
    if (!(fn instanceof PyCallable)) this.fail(`${op} on ${describe(fn)}, which is not an allowed callable`);
    if (!Array.isArray(args)) this.fail(`${op} arguments must be a tuple`);
    return fn.call(args);
  }

  setItems(dict: unknown, kv: unknown[]): void {
    if (!(dict instanceof PyDict)) this.fail(`SETITEM(S) on ${describe(dict)}, which is not a dict`);
    if (kv.length % 2) this.fail("SETITEMS needs key/value pairs");
    for (let i = 0; i < kv.length; i += 2) {
      const k = kv[i];
      if (!isKey(k)) this.fail(`dict key ${describe(k)} is not supported (only str, int, float, bool, None)`);
      dict.items.set(k, kv[i + 1]);
    }
  }

  append(list: unknown, items: unknown[]): void {
    if (list instanceof Set) for (const x of items) list.add(x);
    else if (Array.isArray(list) && !Object.isFrozen(list)) list.push(...items);
    else this.fail(`APPEND(S) on ${describe(list)}, which is not a list`);
  }

  memoGet(i: number): void {
    if (!this.memo.has(i)) this.fail(`memo entry ${i} is not defined`);
    this.push(this.memo.get(i));
  }
}

type Handler = (m: Machine) => void;

const tuple = (items: unknown[]): readonly unknown[] => Object.freeze(items);

/** One handler per opcode torch.save's protocols (2–5) use; any other opcode is refused. */
const OPCODES: Readonly<Record<number, Handler>> = {
  0x80: (m) => void m.u8(), // PROTO
  0x95: (m) => void m.u64(), // FRAME: a size hint only
  0x2e: (m) => {
    // STOP
    if (m.stack.length !== 1 || m.marks.length) m.fail(`STOP with ${m.stack.length} items on the stack`);
    m.result = m.stack[0];
    m.done = true;
  },
  0x63: (m) => {
    // GLOBAL
    const mod = m.line();
    m.push(m.hooks.findGlobal(mod, m.line()));
  },
  0x93: (m) => {
    // STACK_GLOBAL
    const name = m.pop();
    const mod = m.pop();
    if (typeof mod !== "string" || typeof name !== "string") return m.fail("STACK_GLOBAL needs two strings");
    m.push(m.hooks.findGlobal(mod, name));
  },
  0x52: (m) => {
    // REDUCE
    const args = m.pop();
    m.push(m.call(m.pop(), args, "REDUCE"));
  },
  0x81: (m) => {
    // NEWOBJ
    const args = m.pop();
    m.push(m.call(m.pop(), args, "NEWOBJ"));
  },
  0x62: (m) => {
    // BUILD: only dict state on an (Ordered)Dict, which PyTorch stores as attributes; ignored
    const state = m.pop();
    const inst = m.top();
    if (!(inst instanceof PyDict) || !(state === null || state instanceof PyDict)) m.fail(`BUILD on ${describe(inst)} is not allowed`);
  },
  0x28: (m) => {
    // MARK
    m.marks.push(m.stack);
    m.stack = [];
  },
  0x30: (m) => void m.pop(), // POP
  0x31: (m) => void m.popMark(), // POP_MARK
  0x32: (m) => m.push(m.top()), // DUP
  0x61: (m) => {
    // APPEND
    const v = m.pop();
    m.append(m.top(), [v]);
  },
  0x65: (m) => {
    // APPENDS
    const items = m.popMark();
    m.append(m.top(), items);
  },
  0x90: (m) => {
    // ADDITEMS
    const items = m.popMark();
    const s = m.top();
    if (!(s instanceof Set)) m.fail("ADDITEMS on a non-set");
    m.append(s, items);
  },
  0x73: (m) => {
    // SETITEM
    const v = m.pop();
    const k = m.pop();
    m.setItems(m.top(), [k, v]);
  },
  0x75: (m) => {
    // SETITEMS
    const kv = m.popMark();
    m.setItems(m.top(), kv);
  },
  0x74: (m) => {
    // TUPLE (pop first: it swaps the stack)
    const items = tuple(m.popMark());
    m.push(items);
  },
  0x29: (m) => m.push(tuple([])), // EMPTY_TUPLE
  0x85: (m) => m.push(tuple([m.pop()])), // TUPLE1
  0x86: (m) => {
    // TUPLE2
    const b = m.pop();
    m.push(tuple([m.pop(), b]));
  },
  0x87: (m) => {
    // TUPLE3
    const c = m.pop();
    const b = m.pop();
    m.push(tuple([m.pop(), b, c]));
  },
  0x5d: (m) => m.push([]), // EMPTY_LIST
  0x7d: (m) => m.push(new PyDict()), // EMPTY_DICT
  0x8f: (m) => m.push(new Set()), // EMPTY_SET
  0x4e: (m) => m.push(null), // NONE
  0x88: (m) => m.push(true), // NEWTRUE
  0x89: (m) => m.push(false), // NEWFALSE
  0x4a: (m) => m.push(m.i32()), // BININT
  0x4b: (m) => m.push(m.u8()), // BININT1
  0x4d: (m) => m.push(m.u16()), // BININT2
  0x8a: (m) => m.push(intFromBytes(m.bytes(m.u8()))), // LONG1
  0x8b: (m) => {
    // LONG4
    const n = m.u32();
    if (n > 1 << 20) m.fail(`LONG4 of ${n} bytes`);
    m.push(intFromBytes(m.bytes(n)));
  },
  0x47: (m) => m.push(m.f64be()), // BINFLOAT (big-endian)
  0x58: (m) => m.push(m.str(m.bytes(m.u32()))), // BINUNICODE
  0x8c: (m) => m.push(m.str(m.bytes(m.u8()))), // SHORT_BINUNICODE
  0x8d: (m) => m.push(m.str(m.bytes(m.u64()))), // BINUNICODE8
  0x55: (m) => m.push(latin1(m.bytes(m.u8()))), // SHORT_BINSTRING (Python 2 str)
  0x54: (m) => m.push(latin1(m.bytes(m.u32()))), // BINSTRING
  0x43: (m) => m.push(m.bytes(m.u8()).slice()), // SHORT_BINBYTES
  0x42: (m) => m.push(m.bytes(m.u32()).slice()), // BINBYTES
  0x8e: (m) => m.push(m.bytes(m.u64()).slice()), // BINBYTES8
  0x51: (m) => m.push(m.hooks.persistentLoad(m.pop())), // BINPERSID
  0x68: (m) => m.memoGet(m.u8()), // BINGET
  0x6a: (m) => m.memoGet(m.u32()), // LONG_BINGET
  0x71: (m) => m.memo.set(m.u8(), m.top()), // BINPUT
  0x72: (m) => m.memo.set(m.u32(), m.top()), // LONG_BINPUT
  0x94: (m) => m.memo.set(m.memo.size, m.top()), // MEMOIZE
};

/** Runs the pickle in `data` and returns the object it builds (dicts as PyDict, tuples as frozen arrays). */
export function unpickle(data: Uint8Array, hooks: UnpickleHooks): unknown {
  const m = new Machine(data, hooks);
  while (!m.done) {
    const op = m.u8();
    const handler = Object.hasOwn(OPCODES, op) ? OPCODES[op] : undefined;
    if (handler === undefined) {
      m.pos--;
      return m.fail(`unsupported opcode 0x${op.toString(16).padStart(2, "0")}`);
    }
    handler(m);
  }
  return m.result;
}

export function describe(v: unknown): string {
  if (v instanceof PyCallable) return v.qualname;
  if (v instanceof PyDict) return "a dict";
  if (Array.isArray(v)) return Object.isFrozen(v) ? "a tuple" : "a list";
  if (v === null) return "None";
  if (typeof v === "object") return (v as object).constructor?.name ?? "an object";
  return typeof v;
}
