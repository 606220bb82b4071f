// How error messages name a JS value's type: `typeof` for primitives, the class for objects and for
// callable instances (an nn.Module is a function object with its class's prototype).
export function typeName(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "object") return (v as object).constructor?.name ?? "Object";
  if (typeof v === "function" && Object.getPrototypeOf(v) !== Function.prototype)
    return (v as { constructor?: { name?: string } }).constructor?.name ?? "function";
  return typeof v;
}

/** A value's type as an argument error names it, like the addon's errors: int or float for a number. */
export function argTypeName(v: unknown): string {
  return typeof v === "number" ? (Number.isInteger(v) ? "int" : "float") : typeName(v);
}

/**
 * Throws a TypeError unless `fn` is a function. A Python `with` block is a callback here, so
 * `torch.no_grad()` without one is the commonest slip: `usage` shows the TypeScript form.
 */
export function expectCallback(fn: unknown, what: string, usage: string): asserts fn is (...args: never[]) => unknown {
  if (typeof fn !== "function")
    throw new TypeError(`${what}: expected a callback for the scope's body, as in ${usage}; got ${typeName(fn)}`);
}
