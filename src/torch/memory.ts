// Explicit lifetime control. Tensors are freed by GC finalizers anyway, but V8 collects them late:
// a scope frees the tensors created inside it as soon as it ends, except those it returns and those
// something outside took ownership of (escape). The library runs its own module internals in
// scopes, where it knows every owner, so that a plain training loop frees its intermediates when
// they are done rather than at the next full collection.
import { native, type NativeHandle } from "./_native.js";
import { expectCallback } from "./_type_name.js";
import { handedToGc } from "./_tensor_gc.js";

interface Disposable {
  _h: NativeHandle;
}

const stack: Disposable[][] = [];
// Tensors owned by something that outlives any scope (a cache, an autograd context, a module
// attribute, a hook's closure): no scope disposes them; the GC frees them when their owner lets go.
const escaped = new WeakSet<Disposable>();

/**
 * Called by the Tensor constructor: `t` takes ownership of the new handle `h`. A tensor created in
 * a scope is the scope's, so its memory is not reported to V8 as waiting for the GC (it is
 * reported when it outlives every scope: returned from the outermost one, or escaped).
 */
export function adopt(t: Disposable, h: NativeHandle): void {
  const scoped = stack.length !== 0;
  handedToGc(native.adopt(t, h, scoped));
  if (scoped) stack[stack.length - 1].push(t);
}

// Every tensor in `value`: itself, or inside arrays, maps and plain or class objects, 4 levels deep.
function forEachTensor(value: unknown, fn: (t: Disposable) => void, depth = 0): void {
  if (value === null || typeof value !== "object" || depth > 4) return;
  if ((value as Partial<Disposable>)._h !== undefined) {
    fn(value as Disposable);
    return;
  }
  const items = Array.isArray(value) ? value : value instanceof Map ? [...value.values()] : Object.values(value);
  for (const v of items) forEachTensor(v, fn, depth + 1);
}

/**
 * Marks the tensors in `value` as owned outside every scope: no scope disposes them. Library code
 * calls it where it hands a tensor to a longer-lived owner; a no-op outside scopes.
 */
export function escape(value: unknown): void {
  if (stack.length !== 0)
    forEachTensor(value, (t) => {
      escaped.add(t);
      handedToGc(native.reportExternal(t._h));
    });
}

/**
 * Runs `fn`; every tensor created during it is disposed when it returns, except tensors reachable
 * from its result (directly, or inside arrays, maps and objects) and escaped ones. Scopes nest.
 */
export function scope<T>(fn: () => T): T {
  expectCallback(fn, "torch.scope", "torch.scope(() => ...)");
  const created: Disposable[] = [];
  stack.push(created);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    stack.pop();
    for (const t of created) if (!escaped.has(t)) native.dispose(t._h);
    throw e;
  }
  stack.pop();
  const keep = new Set<NativeHandle>();
  forEachTensor(result, (t) => keep.add(t._h));
  const outer = stack.length !== 0 ? stack[stack.length - 1] : null;
  for (const t of created) {
    if (keep.has(t._h)) {
      if (outer !== null) outer.push(t);
      else handedToGc(native.reportExternal(t._h));
    } else if (!escaped.has(t)) native.dispose(t._h);
  }
  return result;
}
