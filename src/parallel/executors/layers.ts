// Which modules of a model are its repeated layers (the units that ZeRO-3 gathers one at a time and
// recompute checkpoints), found from the module tree alone so that the executors never import a
// model class: the ModuleList of same-class modules that holds the most parameters (a decoder's
// `layers`, GPT-2's `h`).
import { ModuleList } from "../../torch/nn/modules/container.js";
import type { Module } from "../../torch/nn/modules/module.js";

function paramCount(m: Module): number {
  let n = 0;
  for (const p of m.parameters()) n += p.numel();
  return n;
}

export function repeatedLayers(model: Module): Module[] {
  let best: Module[] = [];
  let bestParams = 0;
  for (const [, m] of model.named_modules()) {
    if (!(m instanceof ModuleList)) continue;
    const children = [...m.children()];
    if (children.length === 0 || children.some((c) => c.constructor !== children[0].constructor)) continue;
    const n = paramCount(m);
    if (n > bestParams) {
      best = children;
      bestParams = n;
    }
  }
  return best;
}
