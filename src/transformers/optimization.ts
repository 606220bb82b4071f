// HF transformers' schedule helpers (transformers/optimization.py): LambdaLR schedules with a linear
// warmup from 0 to the optimizer's lr, then a linear or cosine decay.
import * as torch from "../torch/index.js";

type Optimizer = torch.optim.Optimizer;
type LambdaLR = torch.optim.lr_scheduler.LambdaLR;

function warmup(step: number, num_warmup_steps: number): number {
  return step / Math.max(1, num_warmup_steps);
}

export function get_linear_schedule_with_warmup(
  optimizer: Optimizer,
  num_warmup_steps: number,
  num_training_steps: number,
  last_epoch = -1,
): LambdaLR {
  const lr_lambda = (step: number): number => {
    if (step < num_warmup_steps) return warmup(step, num_warmup_steps);
    return Math.max(0.0, (num_training_steps - step) / Math.max(1, num_training_steps - num_warmup_steps));
  };
  return new torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda, last_epoch);
}

export function get_cosine_schedule_with_warmup(
  optimizer: Optimizer,
  num_warmup_steps: number,
  num_training_steps: number,
  num_cycles = 0.5,
  last_epoch = -1,
): LambdaLR {
  const lr_lambda = (step: number): number => {
    if (step < num_warmup_steps) return warmup(step, num_warmup_steps);
    const progress = (step - num_warmup_steps) / Math.max(1, num_training_steps - num_warmup_steps);
    return Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * num_cycles * 2.0 * progress)));
  };
  return new torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda, last_epoch);
}
