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

/** Runs the pickle in `data` and returns the object it builds (dicts as PyDict, tuples as frozen arrays). */
export function unpickle(data: Uint8Array, hooks: UnpickleHooks): unknown {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let pos = 0;
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();

  const fail = (problem: string): never => {
    throw new UnpicklingError(`pickle data is invalid at byte ${pos}: ${problem}`);
  };
  const need = (n: number): number => {
    if (n < 0 || pos + n > data.length) fail(`needs ${n} more bytes but the stream ends at byte ${data.length} (truncated)`);
    const at = pos;
    pos += n;
    return at;
  };
  const u8 = () => data[need(1)];
  const u16 = () => view.getUint16(need(2), true);
  const u32 = () => view.getUint32(need(4), true);
  const u64 = () => {
    const v = view.getBigUint64(need(8), true);
    return v > BigInt(data.length) ? fail(`length ${v} exceeds the stream`) : Number(v);
  };
  const bytes = (n: number) => data.subarray(need(n), pos);
  const line = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) fail("unterminated GLOBAL name");
    const s = latin1(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail("stack underflow");
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail("stack underflow");
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = marks.pop();
    if (prev === undefined) fail("MARK expected");
    stack = prev as unknown[];
    return items;
  };
  const str = (b: Uint8Array): string => {
    try {
      return utf8.decode(b);
    } catch {
      return fail("string is not valid UTF-8");
    }
  };
  const call = (fn: unknown, args: unknown, op: string): unknown => {
    if (!(fn instanceof PyCallable)) fail(`${op} on ${describe(fn)}, which is not an allowed callable`);
    if (!Array.isArray(args)) fail(`${op} arguments must be a tuple`);
    return (fn as PyCallable).call(args as unknown[]);
  };
  const setItems = (dict: unknown, kv: unknown[]): void => {
    if (!(dict instanceof PyDict)) fail(`SETITEM(S) on ${describe(dict)}, which is not a dict`);
    if (kv.length % 2) fail("SETITEMS needs key/value pairs");
    for (let i = 0; i < kv.length; i += 2) {
      const k = kv[i];
      if (!isKey(k)) fail(`dict key ${describe(k)} is not supported (only str, int, float, bool, None)`);
      (dict as PyDict).items.set(k as PyKey, kv[i + 1]);
    }
  };
  const append = (list: unknown, items: unknown[]): void => {
    if (list instanceof Set) for (const x of items) list.add(x);
    else if (Array.isArray(list) && !Object.isFrozen(list)) list.push(...items);
    else fail(`APPEND(S) on ${describe(list)}, which is not a list`);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: u64(); break; // FRAME: a size hint only
      case 0x2e: { // STOP
        if (stack.length !== 1 || marks.length) fail(`STOP with ${stack.length} items on the stack`);
        return stack[0];
      }
      case 0x63: { const mod = line(); stack.push(hooks.findGlobal(mod, line())); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const mod = pop();
        if (typeof mod !== "string" || typeof name !== "string") fail("STACK_GLOBAL needs two strings");
        stack.push(hooks.findGlobal(mod as string, name as string));
        break;
      }
      case 0x52: { const args = pop(); stack.push(call(pop(), args, "REDUCE")); break; } // REDUCE
      case 0x81: { const args = pop(); stack.push(call(pop(), args, "NEWOBJ")); break; } // NEWOBJ
      case 0x62: { // BUILD: only dict state on an (Ordered)Dict, which PyTorch stores as attributes; ignored
        const state = pop();
        const inst = top();
        if (!(inst instanceof PyDict) || !(state === null || state instanceof PyDict)) fail(`BUILD on ${describe(inst)} is not allowed`);
        break;
      }
      case 0x28: marks.push(stack); stack = []; break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x61: { const v = pop(); append(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); append(top(), items); break; } // APPENDS
      case 0x90: { const items = popMark(); const s = top(); if (!(s instanceof Set)) fail("ADDITEMS on a non-set"); append(s, items); break; }
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const kv = popMark(); setItems(top(), kv); break; } // SETITEMS
      case 0x74: { const items = Object.freeze(popMark()); stack.push(items); break; } // TUPLE (pop first: it swaps `stack`)
      case 0x29: stack.push(Object.freeze([])); break; // EMPTY_TUPLE
      case 0x85: stack.push(Object.freeze([pop()])); break; // TUPLE1
      case 0x86: { const b = pop(); stack.push(Object.freeze([pop(), b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); stack.push(Object.freeze([pop(), b, c])); break; } // TUPLE3
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x7d: stack.push(new PyDict()); break; // EMPTY_DICT
      case 0x8f: stack.push(new Set()); break; // EMPTY_SET
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: stack.push(view.getInt32(need(4), true)); break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: stack.push(intFromBytes(bytes(u8()))); break; // LONG1
      case 0x8b: { const n = u32(); if (n > 1 << 20) fail(`LONG4 of ${n} bytes`); stack.push(intFromBytes(bytes(n))); break; }
      case 0x47: stack.push(view.getFloat64(need(8), false)); break; // BINFLOAT (big-endian)
      case 0x58: stack.push(str(bytes(u32()))); break; // BINUNICODE
      case 0x8c: stack.push(str(bytes(u8()))); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(str(bytes(u64()))); break; // BINUNICODE8
      case 0x55: stack.push(latin1(bytes(u8()))); break; // SHORT_BINSTRING (Python 2 str)
      case 0x54: stack.push(latin1(bytes(u32()))); break; // BINSTRING
      case 0x43: stack.push(bytes(u8()).slice()); break; // SHORT_BINBYTES
      case 0x42: stack.push(bytes(u32()).slice()); break; // BINBYTES
      case 0x8e: stack.push(bytes(u64()).slice()); break; // BINBYTES8
      case 0x51: stack.push(hooks.persistentLoad(pop())); break; // BINPERSID
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const i = op === 0x68 ? u8() : u32();
        if (!memo.has(i)) fail(`memo entry ${i} is not defined`);
        stack.push(memo.get(i));
        break;
      }
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      default:
        pos--;
        fail(`unsupported opcode 0x${op.toString(16).padStart(2, "0")}`);
    }
  }
}

export function describe(v: unknown): string {
  if (v instanceof PyCallable) return v.qualname;
  if (v instanceof PyDict) return "a dict";
  if (Array.isArray(v)) return Object.isFrozen(v) ? "a tuple" : "a list";
  if (v === null) return "None";
  if (typeof v === "object") return (v as object).constructor?.name ?? "an object";
  return typeof v;
}
