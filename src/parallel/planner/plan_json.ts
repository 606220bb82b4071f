// The plan as JSON: the contract between `tessera plan --json`, `tessera run --plan` (which hands it to
// every worker as TESSERA_PLAN) and the runtime's executors. Keys are snake_case; a user may give any
// subset, validated here with messages that name the key and the value.
import type { Fixed, Offload, Plan, Recompute, ZeroStage } from "./space.js";

export interface PlanJson {
  dp: number;
  tp: number;
  pp: number;
  vpp: number;
  micro_batch: number;
  grad_accum: number;
  zero: ZeroStage;
  recompute: Recompute;
  recompute_layers: number;
  sequence_parallel: boolean;
  offload: Offload;
  hybrid_shard: boolean;
  /** Context parallelism: present only on what-if plans (cp > 1), which the runtime refuses. */
  cp?: number;
}

export function planToJson(plan: Plan): PlanJson {
  return {
    dp: plan.dp,
    tp: plan.tp,
    pp: plan.pp,
    vpp: plan.vpp,
    micro_batch: plan.microBatch,
    grad_accum: plan.gradAccum,
    zero: plan.zero,
    recompute: plan.recompute,
    recompute_layers: plan.recomputeLayers,
    sequence_parallel: plan.sequenceParallel,
    offload: plan.offload,
    hybrid_shard: plan.hybridShard,
    ...(plan.cp > 1 ? { cp: plan.cp } : {}),
  };
}

interface Field {
  key: keyof Plan;
  expected: string;
  valid: (value: unknown) => boolean;
}

const integer =
  (min: number) =>
  (v: unknown): boolean =>
    typeof v === "number" && Number.isInteger(v) && v >= min;
const oneOf =
  (values: readonly unknown[]) =>
  (v: unknown): boolean =>
    values.includes(v);
const positive: Omit<Field, "key"> = { expected: "a positive integer", valid: integer(1) };
const boolean: Omit<Field, "key"> = { expected: "true or false", valid: (v) => typeof v === "boolean" };

/** Every JSON key (in output order), the plan field it sets and the values it takes. */
const FIELDS: Record<keyof PlanJson, Field> = {
  dp: { key: "dp", ...positive },
  tp: { key: "tp", ...positive },
  pp: { key: "pp", ...positive },
  vpp: { key: "vpp", ...positive },
  micro_batch: { key: "microBatch", ...positive },
  grad_accum: { key: "gradAccum", ...positive },
  zero: { key: "zero", expected: "0, 1, 2 or 3", valid: oneOf([0, 1, 2, 3]) },
  recompute: { key: "recompute", expected: `"none", "selective" or "full"`, valid: oneOf(["none", "selective", "full"]) },
  recompute_layers: { key: "recomputeLayers", expected: "a non-negative integer", valid: integer(0) },
  sequence_parallel: { key: "sequenceParallel", ...boolean },
  offload: {
    key: "offload",
    expected: `"none", "optimizer" or "optimizer+params"`,
    valid: oneOf(["none", "optimizer", "optimizer+params"]),
  },
  hybrid_shard: { key: "hybridShard", ...boolean },
  // The runtime executes no context parallelism: only 1 is a plan it can apply.
  cp: {
    key: "cp",
    expected: "1 (context parallelism is a what-if of tessera plan --fix cp=N, not executed by the runtime)",
    valid: oneOf([1]),
  },
};

const KNOWN = Object.keys(FIELDS).join(", ");

function show(value: unknown): string {
  return value === undefined ? "undefined" : JSON.stringify(value);
}

/**
 * Validates user-given plan choices (any subset of the PlanJson keys) into `--fix`-style choices.
 * `where` names the source in messages, e.g. "--plan" or "enable_advanced_parallelization({ plan })".
 */
export function fixedFromPlanJson(value: unknown, where: string): Fixed {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new Error(`${where}: expected a JSON object with plan keys (${KNOWN}), got ${show(value)}`);
  const fixed: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(value)) {
    // hasOwn: a key such as "toString" must not find Object.prototype's.
    if (!Object.hasOwn(FIELDS, name)) throw new Error(`${where}: unknown key '${name}' (known: ${KNOWN})`);
    const field = FIELDS[name as keyof PlanJson];
    if (!field.valid(v)) throw new Error(`${where}: ${name} must be ${field.expected}, got ${show(v)}`);
    fixed[field.key] = v;
  }
  const choices = fixed as Fixed;
  // Contradictions within the given keys; the rest (shapes that the cluster allows) is the search's.
  if (
    choices.recomputeLayers !== undefined &&
    choices.recomputeLayers > 0 &&
    choices.recompute !== undefined &&
    choices.recompute !== "full"
  ) {
    throw new Error(`${where}: recompute_layers ${choices.recomputeLayers} needs recompute "full", got ${show(choices.recompute)}`);
  }
  if (choices.hybridShard === true && choices.zero === 0) throw new Error(`${where}: hybrid_shard true needs zero 1, 2 or 3, got 0`);
  return choices;
}

/** A complete plan from JSON: every PlanJson key, validated as `fixedFromPlanJson` does. */
export function planFromJson(value: unknown, where: string): Plan {
  const fixed = fixedFromPlanJson(value, where);
  const missing = Object.entries(FIELDS)
    .filter(([name, field]) => name !== "cp" && fixed[field.key] === undefined)
    .map(([name]) => name);
  if (missing.length > 0) throw new Error(`${where}: missing key${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`);
  return { cp: 1, ...fixed } as Plan;
}

/** The JSON form of some plan choices, keys in PlanJson order (the normalized text TESSERA_PLAN holds). */
export function fixedToPlanJson(fixed: Fixed): Partial<PlanJson> {
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(FIELDS)) if (fixed[field.key] !== undefined) out[name] = fixed[field.key];
  return out as Partial<PlanJson>;
}
