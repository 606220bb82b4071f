// How error messages name a JS value's type: `typeof` for primitives, the class for objects.
export function typeName(v: unknown): string {
  return v === null ? "null" : typeof v === "object" ? ((v as object).constructor?.name ?? "Object") : typeof v;
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
  if (typeof fn !== "function") throw new TypeError(`${what}: expected a callback for the scope's body, as in ${usage}; got ${typeName(fn)}`);
}
