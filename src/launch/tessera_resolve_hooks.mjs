// Module resolution hooks for `tessera run`: a bare "tessera" or "tessera/<export>" that the script's
// own folder cannot resolve (no node_modules/tessera above it) resolves as this package resolves
// itself, through package.json's "exports" — the tessera that runs the script. A tessera installed
// beside the script wins, as node would pick it. Plain JavaScript: hooks run in node's loader thread.
const SELF = new URL("../../package.json", import.meta.url).href;

export async function resolve(specifier, context, next) {
  if (specifier !== "tessera" && !specifier.startsWith("tessera/")) return next(specifier, context);
  try {
    return await next(specifier, context);
  } catch (e) {
    if (e?.code !== "ERR_MODULE_NOT_FOUND") throw e;
    return next(specifier, { ...context, parentURL: SELF });
  }
}
