// The per-family tensor-parallel plans. To add a family: write its plan (module names to styles,
// head counts, and the per-rank counts its modules read) in a file here and list its class below.
import type { Module } from "../../torch/nn/modules/module.js";
import { BaichuanForCausalLM } from "../../transformers/models/baichuan/modeling_baichuan.js";
import { GPT2LMHeadModel } from "../../transformers/models/gpt2/modeling_gpt2.js";
import { LlamaForCausalLM } from "../../transformers/models/llama/modeling_llama.js";
import type { TensorParallelPlan } from "../executors/tensor_parallel.js";
import { baichuanPlan } from "./baichuan.js";
import { gpt2Plan } from "./gpt2.js";
import { llamaPlan } from "./llama.js";

/** The plan for `model`'s family (Mistral and Qwen2 are LlamaForCausalLM subclasses). */
export function tensorParallelPlanFor(model: Module): TensorParallelPlan {
  if (model instanceof LlamaForCausalLM) return llamaPlan(model);
  if (model instanceof BaichuanForCausalLM) return baichuanPlan(model);
  if (model instanceof GPT2LMHeadModel) return gpt2Plan(model);
  throw new Error(`tensor parallelism has no plan for ${model.constructor.name} (families: Llama, Mistral, Qwen2, Baichuan2, GPT-2)`);
}
