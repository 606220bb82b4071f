// Step 2 of the fine-tuning tutorial: a plain PyTorch-style training loop over the prepared blocks,
// with the seed's one line that turns on Advanced Parallelization.
//
//   node --import tsx examples/finetune/train.ts --model <HF dir> --dataset dataset.pt --batch-size 8 --lr 1e-5
//
// With no --model it trains the embedded default: a ~0.9M-parameter Llama (config/) from random
// weights (fixed seed) on the embedded reverse/upper task, and measures the skill on held-out words
// before and after training.
import { rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { cli, parallel, torch } from "tessera";
import {
  AutoConfig,
  AutoModelForCausalLM,
  AutoTokenizer,
  LoraConfig,
  TrainingLogger,
  get_cosine_schedule_with_warmup,
  get_linear_schedule_with_warmup,
  get_peft_model,
  peakMemory,
  type CausalLM,
  type PreTrainedTokenizer,
} from "tessera/transformers";
import {
  EXIT_CODES,
  RunError,
  UsageError,
  asBadInput,
  existingDir,
  existingFile,
  isEntryPoint,
  nonNegativeInt,
  outputDir,
  parse,
  positiveInt,
  positiveNumber,
  runMain,
  string,
  type Values,
} from "./lib/cli.js";
import { DEFAULT_CONFIG_DIR, DEFAULT_HELDOUT_DATA } from "./lib/paths.js";
import { formatSkill, measureSkill, readExamples, type Skill } from "./lib/skill.js";

const { gpuRows, writeAtomically } = cli;
const { peakFlopsFor, profileFromConfig, trainingFlopsPerToken } = parallel;
const { commitFolder, freshStagingFolder, latest_checkpoint, load_checkpoint, rotate_checkpoints, save_checkpoint, stagingFolder } =
  parallel.checkpoint;

const USAGE = `usage: train.ts [--model DIR] [--dataset FILE] [options]

Fine-tunes a causal LM on a dataset prepared by prepare_dataset.ts and saves it in HF format.

options:
  --model DIR            HF model folder (config.json, weights, tokenizer); default: a new random
                         model from the embedded config (${DEFAULT_CONFIG_DIR})
  --dataset FILE         the .pt from prepare_dataset.ts (default out/finetune/dataset.pt)
  --batch-size N         sequences per step (default 16)
  --block-size N         tokens per sequence; must match the dataset (default 24)
  --lr X                 AdamW learning rate (default 1e-5 with --model, 3e-3 for the embedded default)
  --epochs N             passes over the dataset (default 1)
  --lr-scheduler-type T  constant, linear or cosine: after the warmup the learning rate stays, or
                         decays to 0 at the last step (default constant; HF Trainer's names)
  --warmup-ratio X       fraction of the steps over which the learning rate rises from 0 (default 0;
                         linear or cosine only)
  --max-steps N          stop after N steps (default: all steps of all epochs)
  --log-interval N       steps between log lines (default 10)
  --save-model-dir DIR   where the fine-tuned model goes (default out/finetune/model); written
                         beside it and renamed into place, so an interrupted run never leaves
                         a half-written folder there
  --output-dir DIR       where checkpoints go, as DIR/checkpoint-STEP (default out/finetune)
  --save-steps N         save a checkpoint every N steps and at the last (default: none); every
                         rank writes its own shards (docs/checkpoints.md)
  --save-total-limit K   keep only the K newest checkpoints in --output-dir
  --resume-from-checkpoint DIR|latest
                         continue a run from a checkpoint: same data order, same losses (latest:
                         the newest complete one in --output-dir, or a fresh start when there is
                         none); it may have been saved under another ZeRO/data-parallel plan or
                         number of ranks (not yet under tensor or pipeline parallelism)
  --save-on-interrupt    on SIGINT/SIGTERM, save a checkpoint of the last finished step before
                         exiting (exit code 130/143 either way; the model folder is left as it was)
  --use-lora             train LoRA adapters instead of every weight
  --lora-r N             LoRA rank (default 8)
  --eval-data FILE       .jsonl of {prompt, completion}: exact match of greedy generations before and
                         after training (default: the embedded held-out set when no --model is given)
  --tensorboard-dir DIR  TensorBoard event files (default out/finetune/runs)
  --seed N               random seed for the weights and the shuffling (default 0)
  --skip-nonfinite-loss  skip a step whose loss is NaN or infinite (no update) instead of
                         stopping; by default such a loss stops the run with exit code 1,
                         keeping the last checkpoint and saving no model
  -h, --help             this help

${EXIT_CODES}`;

export interface TrainArgs {
  model: string | null;
  dataset: string;
  batch_size: number;
  block_size: number;
  lr: number;
  /** Default constant. */
  lr_scheduler_type?: "constant" | "linear" | "cosine";
  /** Default 0; only with a linear or cosine schedule. */
  warmup_ratio?: number;
  epochs: number;
  max_steps: number | null;
  log_interval: number;
  save_model_dir: string;
  use_lora: boolean;
  lora_r: number;
  eval_data: string | null;
  tensorboard_dir: string;
  seed: number;
  output_dir: string;
  save_steps: number | null;
  save_total_limit: number | null;
  /** A checkpoint folder, "latest", or null for a fresh start. */
  resume_from_checkpoint: string | null;
  save_on_interrupt: boolean;
  skip_nonfinite_loss: boolean;
}

function parseTrainArgs(argv: string[]): TrainArgs | null {
  const str = { type: "string" } as const;
  const v: Values | null = parse(
    argv,
    {
      model: str,
      dataset: str,
      "batch-size": str,
      "block-size": str,
      lr: str,
      "lr-scheduler-type": str,
      "warmup-ratio": str,
      epochs: str,
      "max-steps": str,
      "log-interval": str,
      "save-model-dir": str,
      "use-lora": { type: "boolean" },
      "lora-r": str,
      "eval-data": str,
      "tensorboard-dir": str,
      seed: str,
      "output-dir": str,
      "save-steps": str,
      "save-total-limit": str,
      "resume-from-checkpoint": str,
      "save-on-interrupt": { type: "boolean" },
      "skip-nonfinite-loss": { type: "boolean" },
    },
    USAGE,
  );
  if (v === null) return null;
  const model = typeof v.model === "string" ? existingDir(v.model, "--model") : null;
  const evalData = typeof v["eval-data"] === "string" ? v["eval-data"] : model === null ? DEFAULT_HELDOUT_DATA : null;
  return {
    model,
    dataset: existingFile(string(v, "dataset", "out/finetune/dataset.pt"), "--dataset"),
    batch_size: positiveInt(v, "batch-size", 16),
    block_size: positiveInt(v, "block-size", 24),
    lr: positiveNumber(v, "lr", model === null ? 3e-3 : 1e-5),
    lr_scheduler_type: schedulerArg(v["lr-scheduler-type"]),
    warmup_ratio: warmupArg(v["warmup-ratio"], schedulerArg(v["lr-scheduler-type"])),
    epochs: positiveInt(v, "epochs", 1),
    max_steps: v["max-steps"] === undefined ? null : positiveInt(v, "max-steps"),
    log_interval: positiveInt(v, "log-interval", 10),
    save_model_dir: outputDir(string(v, "save-model-dir", "out/finetune/model"), "--save-model-dir"),
    use_lora: v["use-lora"] === true,
    lora_r: positiveInt(v, "lora-r", 8),
    eval_data: evalData === null ? null : existingFile(evalData, "--eval-data"),
    tensorboard_dir: outputDir(string(v, "tensorboard-dir", "out/finetune/runs"), "--tensorboard-dir"),
    seed: nonNegativeInt(v, "seed", 0),
    output_dir: outputDir(string(v, "output-dir", "out/finetune"), "--output-dir"),
    save_steps: v["save-steps"] === undefined ? null : positiveInt(v, "save-steps"),
    save_total_limit: v["save-total-limit"] === undefined ? null : positiveInt(v, "save-total-limit"),
    resume_from_checkpoint: resumeArg(v["resume-from-checkpoint"]),
    save_on_interrupt: v["save-on-interrupt"] === true,
    skip_nonfinite_loss: v["skip-nonfinite-loss"] === true,
  };
}

function schedulerArg(value: string | boolean | undefined): NonNullable<TrainArgs["lr_scheduler_type"]> {
  if (value === undefined) return "constant";
  if (value === "constant" || value === "linear" || value === "cosine") return value;
  throw new UsageError(`--lr-scheduler-type must be constant, linear or cosine; got '${String(value)}'`);
}

function warmupArg(value: string | boolean | undefined, schedule: NonNullable<TrainArgs["lr_scheduler_type"]>): number {
  const x = value === undefined ? 0 : Number(value);
  if (!(x >= 0 && x < 1)) throw new UsageError(`--warmup-ratio must be a number in [0, 1); got '${String(value)}'`);
  if (x > 0 && schedule === "constant") throw new UsageError("--warmup-ratio needs --lr-scheduler-type linear or cosine");
  return x;
}

function resumeArg(value: string | boolean | undefined): string | null {
  if (typeof value !== "string") return null;
  return value === "latest" ? value : existingDir(value, "--resume-from-checkpoint");
}

/** The seed's mask_pads: labels are the input ids with padding set to -100, which the loss ignores. */
export function mask_pads(input_ids: torch.Tensor, attention_mask: torch.Tensor, ignore_index = -100): torch.Tensor {
  return input_ids.masked_fill(attention_mask.eq(0), ignore_index);
}

type Batch = { input_ids: torch.Tensor; attention_mask: torch.Tensor };

/** The prepared .pt as a map-style dataset of {input_ids, attention_mask} rows. */
class BlockDataset extends torch.utils.data.Dataset<Batch> {
  constructor(private readonly data: Batch) {
    super();
  }
  getitem(i: number): Batch {
    return { input_ids: this.data.input_ids.select(0, i), attention_mask: this.data.attention_mask.select(0, i) };
  }
  len(): number {
    return this.data.input_ids.shape[0]!;
  }
}

function loadBlocks(file: string, block_size: number): Batch {
  const obj = asBadInput(`--dataset ${file}`, () => torch.load(file)) as Partial<Batch> | null;
  const ok = (t: unknown): t is torch.Tensor => t instanceof torch.Tensor && t.dim() === 2;
  if (obj === null || typeof obj !== "object" || !ok(obj.input_ids) || !ok(obj.attention_mask)) {
    throw new UsageError(`${file}: expected {input_ids, attention_mask} 2-d tensors (run prepare_dataset.ts)`);
  }
  const width = obj.input_ids.shape[1];
  if (width !== block_size)
    throw new UsageError(
      `${file} holds blocks of ${width} tokens, but --block-size is ${block_size} (prepare the dataset with --block-size ${block_size})`,
    );
  return { input_ids: obj.input_ids, attention_mask: obj.attention_mask };
}

function pickDevice(): { device: torch.device; name: string } {
  if (!torch.cuda.is_available()) return { device: new torch.device("cpu"), name: "cpu" };
  const index = torch.cuda.current_device();
  return { device: new torch.device("cuda", index), name: gpuRows()[index]?.name ?? "cuda" };
}

/** Rank 0 of a multi-rank job (or the only process) saves, evaluates and prints, as HF's is_main_process. */
function isMainProcess(): boolean {
  return !torch.distributed.is_initialized() || torch.distributed.get_rank() === 0;
}

function worldSize(): number {
  return torch.distributed.is_initialized() ? torch.distributed.get_world_size() : 1;
}

function loadModel(args: TrainArgs, device: torch.device): { model: CausalLM; tokenizer: PreTrainedTokenizer } {
  const dir = args.model ?? DEFAULT_CONFIG_DIR;
  const { model, tokenizer } = asBadInput(`--model ${dir}`, () => ({
    tokenizer: AutoTokenizer.from_pretrained(dir),
    model:
      args.model === null ? AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(dir)) : AutoModelForCausalLM.from_pretrained(dir),
  }));
  if (tokenizer.pad_token === null) tokenizer.pad_token = tokenizer.eos_token;
  model.to(device);
  return { model, tokenizer };
}

/**
 * Wraps the model's attention projections with LoRA adapters (PEFT's default target modules for the
 * model's family: q_proj and v_proj for Llama, W_pack for Baichuan2, c_attn for GPT-2), freezing the rest. The adapter names its base model folder; a new random base (the
 * embedded default) is saved first, into the model folder being written (`staging`), so that
 * inference can load it from the committed folder.
 */
function addLora(model: CausalLM, args: TrainArgs, staging: string): ReturnType<typeof get_peft_model> {
  let base = args.model;
  if (base === null) {
    model.save_pretrained(join(staging, "base"));
    base = join(args.save_model_dir, "base");
  }
  const config = new LoraConfig({
    r: args.lora_r,
    lora_alpha: 2 * args.lora_r,
    task_type: "CAUSAL_LM",
    base_model_name_or_path: resolve(base),
  });
  const peft = get_peft_model(model, config);
  const targets = config.resolved_target_modules(String(model.config.model_type));
  const [trainable, all] = peft.get_nb_trainable_parameters();
  if (isMainProcess())
    console.log(
      `LoRA r=${args.lora_r} on ${[targets].flat().join(", ")}: ${trainable.toLocaleString("en-US")} trainable of ${all.toLocaleString("en-US")} parameters`,
    );
  return peft;
}

export interface TrainResult {
  losses: Array<[number, number]>;
  skill_before: Skill | null;
  skill_after: Skill | null;
  steps: number;
  seconds: number;
  tokens_per_s: number;
  non_pad_tokens_per_s: number;
  peak_memory_bytes: number;
  /** The model folder, or null when the run was interrupted (the folder is then left as it was). */
  saved_to: string | null;
  /** The checkpoint this run resumed from. */
  resumed_from: string | null;
  /** The signal that stopped the run early, or null. */
  interrupted: "SIGINT" | "SIGTERM" | null;
}

/** Records SIGINT/SIGTERM instead of dying on them, so that the loop stops between steps (and may save first). */
function watchSignals(): { signal: () => "SIGINT" | "SIGTERM" | null; dispose: () => void } {
  let received: "SIGINT" | "SIGTERM" | null = null;
  const handlers = (["SIGINT", "SIGTERM"] as const).map((sig) => {
    const h = (): void => void (received ??= sig);
    process.on(sig, h);
    return [sig, h] as const;
  });
  return { signal: () => received, dispose: () => handlers.forEach(([sig, h]) => process.off(sig, h)) };
}

/** Lets signal handlers run: the loop is synchronous, so a signal is noticed between steps. */
const nextTurn = (): Promise<void> => new Promise((done) => setImmediate(done));

export async function train(args: TrainArgs): Promise<TrainResult> {
  // The plan is made for the batch and sequence length this run trains with.
  torch.moreh.option.enable_advanced_parallelization({ seq_len: args.block_size, global_batch: args.batch_size });
  torch.manual_seed(args.seed);
  const { device, name } = pickDevice();
  const data = loadBlocks(args.dataset, args.block_size);
  const dataset = new BlockDataset(data);
  if (args.batch_size > dataset.len())
    throw new UsageError(
      `--batch-size ${args.batch_size} is larger than the dataset (${dataset.len()} examples in ${args.dataset}); with drop_last no batch would run`,
    );
  const { model, tokenizer } = loadModel(args, device);
  const config = model.config.to_dict();
  const main = isMainProcess();
  const world = worldSize();
  const print = (line: string | null): void => {
    if (main) console.log(line);
  };
  print(
    `Model: ${args.model ?? `new ${model.constructor.name} from ${DEFAULT_CONFIG_DIR}`} (${model.num_parameters().toLocaleString("en-US")} parameters) on ${device} (${name})`,
  );
  const resume = args.resume_from_checkpoint === "latest" ? latest_checkpoint(args.output_dir) : args.resume_from_checkpoint;
  if (args.resume_from_checkpoint === "latest" && resume === null) print(`No checkpoint in ${args.output_dir} yet: starting from step 0`);

  // Every rank evaluates (a sharded model computes on all of them); rank 0 prints. A resumed run's
  // "before" was measured by the run it continues.
  const evalFile = args.eval_data;
  const evalSet = evalFile === null ? null : asBadInput(`--eval-data ${evalFile}`, () => readExamples(evalFile));
  const skill_before = evalSet === null || resume !== null ? null : measureSkill(model, tokenizer, evalSet, device);
  if (skill_before !== null) print(`Skill before training: ${formatSkill(skill_before)} on ${evalSet!.length} held-out prompts`);

  // The model folder is written here and renamed into place at the end.
  const staging = main ? freshStagingFolder(args.save_model_dir) : stagingFolder(args.save_model_dir);
  const lora = args.use_lora ? addLora(model, args, staging) : null;
  const trained = lora ?? model;
  const loader = new torch.utils.data.DataLoader(dataset, { batch_size: args.batch_size, shuffle: true, drop_last: true });
  const optim = new torch.optim.AdamW(
    [...model.parameters()].filter((p) => p.requires_grad),
    { lr: args.lr },
  );
  // The schedule spans the run's steps (warmup first), as HF Trainer's lr_scheduler_type / warmup_ratio.
  const schedule_steps = Math.min(loader.len() * args.epochs, args.max_steps ?? Infinity);
  const warmup_steps = Math.ceil((args.warmup_ratio ?? 0) * schedule_steps);
  const lr_scheduler =
    args.lr_scheduler_type === "cosine"
      ? get_cosine_schedule_with_warmup(optim, warmup_steps, schedule_steps)
      : args.lr_scheduler_type === "linear"
        ? get_linear_schedule_with_warmup(optim, warmup_steps, schedule_steps)
        : null;
  const state = { model: trained, optimizer: optim, lr_scheduler, dataloader: loader };
  let step = 0;
  let first_epoch = 0;
  if (resume !== null) {
    const saved = load_checkpoint(resume, state);
    step = Number(saved?.global_step ?? 0);
    first_epoch = Number(saved?.epoch ?? 0);
    print(`Resumed from ${resume} at step ${step}`);
  }
  let saved_step = resume === null ? -1 : step;
  // Diverged updates can make weights NaN while the loss that drove them was finite: whatever is
  // saved is checked first, so a checkpoint or model folder never holds a non-finite weight.
  const params = [...trained.parameters()];
  const checkWeights = (): void => {
    if (!weightsAreFinite(params, world))
      throw new RunError(`step ${step}: ${stopMessage("the weights hold NaN or infinite values (the updates diverged)", saved_step)}`);
  };
  const saveCheckpoint = (epoch: number): void => {
    checkWeights();
    const dir = join(args.output_dir, `checkpoint-${step}`);
    save_checkpoint(dir, state, { trainer_state: { global_step: step, epoch }, write_extra: (d) => tokenizer.save_pretrained(d) });
    if (main && args.save_total_limit !== null) rotate_checkpoints(args.output_dir, args.save_total_limit);
    saved_step = step;
    print(`Saved checkpoint ${dir}`);
  };

  const total_steps = Math.min(loader.len() * args.epochs, args.max_steps ?? Infinity);
  const writer = main ? new torch.utils.tensorboard.SummaryWriter(args.tensorboard_dir) : undefined;
  const peak = peakFlopsFor(name);
  const logger = new TrainingLogger({
    total_steps,
    initial_step: step,
    log_interval: args.log_interval,
    writer,
    memory: () => peakMemory(device),
    flops_per_token: trainingFlopsPerToken(profileFromConfig(config), args.block_size),
    // Tokens are counted over all ranks (below), so the peak is that of all ranks' devices.
    peak_flops: peak === null ? null : peak * world,
    print,
  });
  const per_rank = world > 1 ? ` (the global batch, split over ${world} ranks)` : "";
  print(
    `Training ${total_steps} steps: ${args.epochs} epoch(s) of ${loader.len()} batches of ${args.batch_size} × ${args.block_size} tokens${per_rank}, lr ${args.lr}${lr_scheduler === null ? "" : ` (${args.lr_scheduler_type}, ${warmup_steps} warmup steps)`}`,
  );

  const signals = watchSignals();
  let interrupted: "SIGINT" | "SIGTERM" | null = null;
  try {
    model.train();
    for (let epoch = first_epoch; epoch < args.epochs && step < total_steps && interrupted === null; epoch++) {
      for (const batch of loader as Iterable<Batch>) {
        if (step >= total_steps) break;
        const input_ids = batch.input_ids.to(device);
        const attention_mask = batch.attention_mask.to(device);
        const labels = mask_pads(input_ids, attention_mask);
        const outputs = model.forward(input_ids, { attention_mask, labels, use_cache: false });
        const loss = outputs.loss!;
        loss.backward();
        // A non-finite loss has non-finite gradients, and one update with them makes every weight
        // NaN: it is read before the update (one device sync a step), and the update is not made.
        const loss_value = loss.item();
        const step_lr = lr_scheduler?.get_last_lr()[0] ?? args.lr;
        if (Number.isFinite(loss_value)) optim.step();
        else if (args.skip_nonfinite_loss) print(`Step ${step + 1}: loss is ${loss_value}; step skipped (--skip-nonfinite-loss)`);
        else
          throw new RunError(
            `step ${step + 1}: ${stopMessage(`the loss is ${loss_value}`, saved_step)}; or pass --skip-nonfinite-loss to skip such steps`,
          );
        model.zero_grad({ set_to_none: true });
        await nextTurn();
        // Counted on the host copy of the mask, so no step waits for the device; summed over all
        // ranks, with whether a rank was signalled, so that all of them stop after the same step.
        const tokens = torch.tensor([input_ids.numel(), batch.attention_mask.sum().item(), signals.signal() === null ? 0 : 1]);
        if (world > 1) torch.distributed.all_reduce(tokens);
        const [summed_tokens, summed_non_pad, stop] = tokens.tolist() as number[];
        // The tensor-parallel ranks and pipeline stages of one data-parallel rank read the same batch.
        const readers = world / (torch.moreh.applied_plan()?.dp ?? world);
        logger.record({ tokens: summed_tokens / readers, non_pad_tokens: summed_non_pad / readers, loss: () => loss_value, lr: step_lr });
        lr_scheduler?.step();
        step++;
        // As HF's Trainer: every save_steps, and at the last step.
        if (args.save_steps !== null && (step % args.save_steps === 0 || step === total_steps)) saveCheckpoint(epoch);
        if (stop > 0) {
          interrupted = signals.signal() ?? "SIGTERM";
          if (args.save_on_interrupt && saved_step !== step) saveCheckpoint(epoch);
          break;
        }
      }
    }
    if (interrupted === null) checkWeights();
  } catch (e) {
    // Nothing of this run is saved: the staging folder goes, the model folder stays as it was.
    writer?.close();
    if (main) rmSync(staging, { recursive: true, force: true });
    throw e;
  } finally {
    signals.dispose();
  }
  if (interrupted !== null) {
    print(
      `Stopped by ${interrupted} after step ${step}${saved_step === step ? `; resume with --resume-from-checkpoint ${join(args.output_dir, `checkpoint-${step}`)}` : ""}`,
    );
  }
  model.eval();

  const skill_after = evalSet === null || interrupted !== null ? null : measureSkill(model, tokenizer, evalSet, device);
  const saved_to = interrupted === null ? args.save_model_dir : null;
  if (saved_to !== null) {
    // Every rank saves (a sharded model gathers its weights on all of them); rank 0 writes.
    if (lora === null) model.save_pretrained(staging);
    else if (main) lora.save_pretrained(staging);
    if (main) tokenizer.save_pretrained(staging);
  }
  writer?.close();
  const summary = logger.finish(main ? saved_to : null);
  if (skill_before !== null && skill_after !== null) {
    console.log(`Skill before training: ${formatSkill(skill_before)}`);
    console.log(`Skill after training:  ${formatSkill(skill_after)}`);
  }
  const result: TrainResult = {
    losses: summary.losses,
    skill_before,
    skill_after,
    steps: summary.steps,
    seconds: summary.seconds,
    tokens_per_s: summary.tokens_per_s,
    non_pad_tokens_per_s: summary.non_pad_tokens_per_s,
    peak_memory_bytes: summary.peak_memory.bytes,
    saved_to,
    resumed_from: resume,
    interrupted,
  };
  if (main && saved_to !== null) {
    writeAtomically(join(staging, "train_results.json"), (fd) => writeFileSync(fd, JSON.stringify(result, null, 2) + "\n"));
    commitFolder(staging, saved_to);
  } else if (main) {
    rmSync(staging, { recursive: true, force: true });
  }
  return result;
}

function stopMessage(problem: string, saved_step: number): string {
  const kept = saved_step >= 0 ? `the last checkpoint (step ${saved_step}) is kept` : "no checkpoint was saved";
  return `${problem}; training stopped without saving the model (${kept}). Lower --lr`;
}

/** Whether every weight of `params` is finite on every rank (each rank checks what it holds): one device sync. */
function weightsAreFinite(params: torch.Tensor[], world: number): boolean {
  const bad = torch.tensor([
    torch.no_grad(() =>
      torch
        .stack(params.map((p) => p.isfinite().all()))
        .logical_not()
        .sum()
        .item(),
    ),
  ]);
  if (world > 1) torch.distributed.all_reduce(bad);
  return bad.item() === 0;
}

const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

export async function main(argv: string[]): Promise<number> {
  let interrupted: "SIGINT" | "SIGTERM" | null = null;
  const code = await runMain("train.ts", async () => {
    const args = parseTrainArgs(argv);
    if (args !== null) interrupted = (await train(args)).interrupted;
  });
  return code === 0 && interrupted !== null ? SIGNAL_EXIT[interrupted] : code;
}

if (isEntryPoint(import.meta.url)) process.exitCode = await main(process.argv.slice(2));
