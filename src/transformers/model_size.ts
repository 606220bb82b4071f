// A config whose sizes no machine could hold (num_hidden_layers: 1e9) is refused before the model
// is built: building it would allocate layer after layer until memory runs out.
import { totalmem } from "node:os";
import type { dtype } from "../torch/dtype.js";
import type { PretrainedConfig } from "./configuration_utils.js";

/**
 * A lower bound on the parameter count of any decoder of these sizes: per layer the query and
 * output projections (hidden² each), plus one embedding table. Every family here has at least these.
 */
export function minimumParameterCount(config: PretrainedConfig): number {
  const h = config.hidden_size;
  return config.num_hidden_layers * 2 * h * h + config.vocab_size * h;
}

/** Refuses a config whose weights alone would not fit in this machine's memory (times the job's processes). */
export function checkModelFits(config: PretrainedConfig, dt: dtype, where: string): void {
  const bytes = minimumParameterCount(config) * dt.itemsize;
  const processes = Math.max(1, Number(process.env.WORLD_SIZE ?? 1) || 1);
  const available = totalmem() * processes;
  if (bytes > available) {
    const gib = (n: number) => `${(n / 2 ** 30).toFixed(1)} GiB`;
    throw new Error(
      `${where}: num_hidden_layers ${config.num_hidden_layers}, hidden_size ${config.hidden_size} and vocab_size ${config.vocab_size} need at least ${gib(bytes)} of ${dt.name} weights, more than the ${gib(available)} of memory here`,
    );
  }
}
