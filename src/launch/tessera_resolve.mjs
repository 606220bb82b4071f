// Imported (`node --import`) by every process `tessera run` starts, so that a script in any folder
// can import "tessera" and "tessera/<export>": a bare tessera specifier that the script's own folder
// cannot resolve (no node_modules/tessera above it) resolves as this package resolves itself,
// through package.json's "exports" — the tessera that runs the script. A tessera installed beside
// the script wins, as node would pick it. ES modules go through tessera_resolve_hooks.mjs; a script
// node runs as CommonJS (a .ts outside any "type": "module" package) through require's resolver.
// Plain JavaScript because node loads it before any TypeScript loader could apply.
import Module, { createRequire, register } from "node:module";

register("./tessera_resolve_hooks.mjs", import.meta.url);

const isTessera = (request) => request === "tessera" || request.startsWith("tessera/");
const selfRequire = createRequire(new URL("../../package.json", import.meta.url));
const resolveFilename = Module._resolveFilename;
let resolvingSelf = false;
Module._resolveFilename = function (request, parent, isMain, options) {
  try {
    return resolveFilename.call(this, request, parent, isMain, options);
  } catch (e) {
    if (resolvingSelf || e?.code !== "MODULE_NOT_FOUND" || !isTessera(request)) throw e;
    resolvingSelf = true;
    try {
      return selfRequire.resolve(request);
    } finally {
      resolvingSelf = false;
    }
  }
};
