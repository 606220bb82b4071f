// with_format("torch"): how a row's values become tensors, as datasets' TorchFormatter does: integers
// int64, floats float32, booleans bool, (nested) lists of them one tensor; strings stay strings.
import * as torch from "../torch/index.js";
import type { Tensor } from "../torch/tensor.js";

/** A value as the torch format returns it. */
export type TorchValue<V> = V extends string ? string : V extends readonly string[] ? string[] : V extends null | undefined ? V : Tensor;

function leaves(v: unknown, out: unknown[]): boolean {
  if (Array.isArray(v)) return v.every((x) => leaves(x, out));
  out.push(v);
  return typeof v === "number" || typeof v === "boolean";
}

export function toTorch(v: unknown): unknown {
  if (v instanceof torch.Tensor || v === null || v === undefined || typeof v === "string") return v;
  const flat: unknown[] = [];
  if (!leaves(v, flat) || flat.length === 0) return v;
  if (flat.every((x) => typeof x === "boolean")) return torch.tensor(v as boolean[], { dtype: torch.bool });
  const integral = flat.every((x) => typeof x === "number" && Number.isInteger(x));
  return torch.tensor(v as number[], { dtype: integral ? torch.int64 : torch.float32 });
}
