// Explicit lifetime control for tight loops. Tensors are freed by GC finalizers anyway; a scope
// frees the tensors created inside it as soon as it ends, except those it returns.
import { native, type NativeHandle } from "./_native.js";
import { expectCallback } from "./_type_name.js";

interface Disposable {
  _h: NativeHandle;
}

const stack: Disposable[][] = [];

/** Called by the Tensor constructor. */
export function track(t: Disposable): void {
  if (stack.length !== 0) stack[stack.length - 1].push(t);
}

function collectKept(value: unknown, keep: Set<NativeHandle>, depth = 0): void {
  if (value === null || typeof value !== "object" || depth > 4) return;
  const h = (value as Partial<Disposable>)._h;
  if (h !== undefined) {
    keep.add(h);
    return;
  }
  const items = Array.isArray(value) ? value : value instanceof Map ? [...value.values()] : Object.values(value);
  for (const v of items) collectKept(v, keep, depth + 1);
}

/**
 * Runs `fn`; every tensor created during it is disposed when it returns, except tensors reachable
 * from its result (directly, or inside arrays, maps and plain objects). Scopes nest.
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
    for (const t of created) native.dispose(t._h);
    throw e;
  }
  stack.pop();
  const keep = new Set<NativeHandle>();
  collectKept(result, keep);
  const outer = stack.length !== 0 ? stack[stack.length - 1] : null;
  for (const t of created) {
    if (keep.has(t._h)) outer?.push(t);
    else native.dispose(t._h);
  }
  return result;
}
