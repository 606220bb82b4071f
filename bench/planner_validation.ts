// Regenerates docs/planner-validation.md: the cost model against Megatron-LM's published Table 1
// (SC'21, what the constants were checked against), against published results it was not fitted to
// (reference/published_results.json), and `tessera plan` on Baichuan2-13B for 1, 8, 16 and 32 H100s.
// Run: node --import tsx bench/planner_validation.ts
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { hardwarePreset, loadModelProfile, makeProblem, plan, resultText } from "../src/parallel/planner/index.js";
import { validateRow, type MegatronTable } from "../src/parallel/planner/megatron.js";
import { validatePublished, type PublishedTable, type PublishedValidation } from "../src/parallel/planner/published.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const reference = resolve(root, "reference");
const table = JSON.parse(readFileSync(resolve(reference, "megatron_sc21_table1.json"), "utf8")) as MegatronTable;
const GiB = 2 ** 30;

const rows = table.rows.map((row) => validateRow(table, row));
const maxError = Math.max(...rows.map((r) => Math.abs(r.error)));
const lines = rows.map(({ row, published, free, error }) => {
  const s = published.prediction.step;
  const pct = (x: number) => `${Math.round((100 * x) / s.total)}`;
  const f = free.plan;
  const freePlan = `dp${f.dp} tp${f.tp}${f.sequenceParallel ? "+sp" : ""} pp${f.pp}${f.vpp > 1 ? `×${f.vpp}` : ""} mbs${f.microBatch} z${f.zero} ${f.recompute === "full" ? `full(${f.recomputeLayers})` : f.recompute}`;
  return `| ${row.params_b} | ${row.tp}/${row.pp}/${row.dp} | ${published.plan.vpp} | ${row.micro_batch}/${row.global_batch} | ${row.tflops_per_gpu} | ${published.prediction.tflopsPerGpu.toFixed(1)} | ${(100 * error).toFixed(1)} % | ${(published.memory.total / GiB).toFixed(1)} | ${pct(s.compute)}/${pct(s.recompute)}/${pct(s.tpComm)}/${pct(s.bubble)}/${pct(s.ppComm + s.dpComm + s.optimizer)} | ${freePlan} | ${free.prediction.tflopsPerGpu.toFixed(1)} (${((100 * free.prediction.tokensPerS) / published.prediction.tokensPerS - 100).toFixed(0)} %) |`;
});

const publishedTable = JSON.parse(readFileSync(resolve(reference, "published_results.json"), "utf8")) as PublishedTable;
const published = publishedTable.rows.map((row) => validatePublished(publishedTable, row));
const meanAbs = (rs: PublishedValidation[]) => rs.reduce((a, r) => a + Math.abs(r.error), 0) / rs.length;
const medianOf = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 === 1 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
};
const groups: Array<[string, PublishedValidation[]]> = [
  ["NVIDIA NeMo / Megatron-Core, H100", published.filter((r) => r.row.stack === "nvidia")],
  ["A100 (Megatron-LM, Megatron-DeepSpeed, llm-foundry FSDP)", published.filter((r) => r.row.gpu.startsWith("a100"))],
  ["A100, Megatron stacks only", published.filter((r) => r.row.gpu.startsWith("a100") && r.row.stack === "megatron")],
  ["Meta (Llama 3 405B), H100", published.filter((r) => r.row.stack === "meta")],
  ["PyTorch FSDP (llm-foundry), H100", published.filter((r) => r.row.stack === "fsdp" && r.row.gpu.startsWith("h100"))],
];
const summary = groups.map(
  ([name, rs]) =>
    `| ${name} | ${rs.length} | ${(100 * meanAbs(rs)).toFixed(1)} % | ${(100 * Math.max(...rs.map((r) => Math.abs(r.error)))).toFixed(1)} % | ${rs.filter((r) => r.published.fits).length}/${rs.length} |`,
);
const nvidiaGain = medianOf(groups[0]![1].map((r) => r.freeGain));
const layoutOf = (r: PublishedValidation) => {
  const p = r.published.plan;
  return `${p.tp}/${p.pp}${p.vpp > 1 ? `×${p.vpp}` : ""}/${p.dp}/${p.cp}`;
};
const freeOf = (r: PublishedValidation) => {
  const f = r.free?.plan;
  return f === undefined
    ? "none fits"
    : `dp${f.dp} tp${f.tp}${f.sequenceParallel ? "+sp" : ""} pp${f.pp}${f.vpp > 1 ? `×${f.vpp}` : ""} mbs${f.microBatch} z${f.zero}${f.hybridShard ? "+hsdp" : ""} ${f.recompute}`;
};
const publishedLines = published.map((r) => {
  const s = r.published.prediction.step;
  const pct = (x: number) => `${Math.round((100 * x) / s.total)}`;
  const src = publishedTable.sources[r.row.source]!;
  return `| ${r.row.id} | [${r.row.source}](${src.url}) | ${r.row.software} | ${r.row.gpus} × ${r.row.gpu} | ${r.row.precision} | ${layoutOf(r)} | ${r.row.seq} | ${r.row.micro_batch}/${r.row.global_batch} | z${r.row.zero} ${r.row.recompute} | ${r.publishedTokensPerGpu.toFixed(0)} | ${r.predictedTokensPerGpu.toFixed(0)} | ${(100 * r.error).toFixed(1)} % | ${(r.published.memory.total / GiB).toFixed(0)} | ${pct(s.compute + s.recompute)}/${pct(s.tpComm + s.cpComm)}/${pct(s.bubble + s.ppComm)}/${pct(s.dpComm + s.optimizer)} | ${freeOf(r)} (${(100 * r.freeGain).toFixed(0)} %) |`;
});

const baichuan = resolve(reference, "configs/Baichuan2-13B-Base.json");
const runs = [1, 8, 16, 32].map((gpus) => {
  const problem = makeProblem(loadModelProfile(baichuan), gpus, {
    hardware: hardwarePreset("h100-sxm-80gb"),
    gpusPerNode: 8,
    seqLen: 1024,
    globalBatch: 256,
  });
  const text = resultText(problem, plan(problem)).replace(/searched ([\d,]+) plans in [\d.]+ ms/, "searched $1 plans");
  return `### ${gpus} × H100\n\n\`\`\`\n$ tessera plan --model reference/configs/Baichuan2-13B-Base.json --gpus ${gpus} --seq-len 1024 --global-batch 256\n${text}\n\`\`\``;
});

const doc = `# Planner validation

Generated by \`node --import tsx bench/planner_validation.ts\`; do not edit by hand. The bounds are held by
\`test/planner/megatron.test.ts\`.

## Megatron-LM, SC'21 Table 1 (A100-80GB)

Source: Narayanan et al., "Efficient Large-Scale Language Model Training on GPU Clusters Using
Megatron-LM", SC'21, Table 1 (\`reference/megatron_sc21_table1.json\`). Each row's published
configuration is evaluated with the A100-80GB preset and the runs' software: unfused attention (the s×s
scores are stored), dropout, full recompute of every layer, no sequence parallelism, no distributed
optimizer, sequence 2048, vocabulary 51,200. Executed FLOPs are Megatron's
96·B·s·l·h²(1 + s/6h + V/16lh). No constant is fitted per row: the GEMM efficiency curve
(80 % of peak, half of that at a 250-wide dimension, of h/t), attention efficiency (55 %), HBM (80 % of
data sheet), NVLink (235 GB/s bus) and InfiniBand (8 × 200 Gb/s per node at 90 %) are the preset's.

Time split of the published configuration: compute / recompute / TP communication / bubble / other
(p2p, exposed DP, optimizer), in % of the step. "Free search" is the plan the planner picks on the same
GPUs and batch (tessera's own kernels: the same unfused attention here), with its throughput gain over
the published configuration.

| params (B) | TP/PP/DP | VPP | mbs/batch | published TFLOP/s | predicted | error | memory GiB | time split % | free search | free TFLOP/s (tokens/s gain) |
| ---: | --- | ---: | --- | ---: | ---: | ---: | ---: | --- | --- | --- |
${lines.join("\n")}

**Max |error|: ${(100 * maxError).toFixed(1)} %** (bound ±15 %). Every published configuration fits in 80 GB, and the
free search is at least as fast on every row.

## Published results the planner was not fitted to

Data: \`reference/published_results.json\` (${published.length} rows; sources with URLs there and in the table);
held by \`test/planner/published.test.ts\`, kept apart from what the planner is fitted to. No constant was
fitted to these rows: the planner's constants are data-sheet figures, kernel micro-benchmark fractions
and the SC'21 table above. Candidly, the set is not a blind hold-out: after a first evaluation four
modelling rules changed, each for a hardware or software reason stated in docs/planner.md and none with a
per-row or tuned constant — a collective across nodes uses every NIC its group owns in a node; hidden
communication slows compute by NCCL's SM share; FP8 GEMMs need twice bf16's width to be compute-bound;
Megatron-Core's TP overlap became a what-if the NeMo rows use. A second round (issue 17) evaluates each
row with the software that ran it (\`src/parallel/planner/stack.ts\`, the row's \`software\`), each trait
documented by its source, none a constant: Megatron's pipeline split (even; or the embedding and output
layer counted as a layer each: BLOOM's [embed | 5] [6] … [5 | embed], Llama 3's one layer fewer on the
first and last stages); Megatron-LM's asynchronous TP backward under sequence parallelism (the
column-parallel layers' reduce-scatters and input re-gathers behind their weight- and input-gradient
GEMMs); DeepSpeed's BF16_Optimizer (fp32 gradient accumulation, a 10-byte pass per parameter and
micro-batch, 4 bytes per parameter held; BigScience tr11 README); BLOOM's cluster network (Jean Zay:
4 × 100 Gb/s Omni-Path per node, not a DGX's 8 × 200 Gb/s; same README); Megatron-Core's FP8 primary
weights under fp8 (NeMo's FP8 recipe, below); the data-parallel and pipeline communication each
stack's runs configure (the dtype of the gradient reduction, ZeRO-1's reduce-scatter, the interleaved
schedule's overlapped sends: a third round, below); and the published memory formulas for the published
stacks (below). Each row's published layout is evaluated with its configuration fixed (tp/pp×vpp/dp/cp,
micro-batch, global batch, precision, ZeRO: Megatron's distributed optimizer as 1, FSDP FULL_SHARD as 3,
recompute); the NeMo H100 rows run FP8 GEMMs (\`--precision fp8\`) and Megatron-Core's TP communication
overlap (\`--tp-comm-overlap\`), both modelled as what-ifs tessera's runtime does not execute.
Published throughput is tokens/s per GPU as published, or recovered from the source's MFU or TFLOP/s
with the FLOP convention it states (Korthikanti et al.: 72·B·s·l·h²(1 + s/6h + V/12lh); BLOOM
(Megatron-DeepSpeed, full recompute): 96·B·s·l·h²(1 + s/6h + V/16lh); Llama 3: 6N + 12·L·h·s, assumed).

| set | rows | mean \|error\| | max \|error\| | fit 80 GB (the stack's memory accounting) |
| --- | ---: | ---: | ---: | ---: |
${summary.join("\n")}

**Both sets hold the issue's 8 % target**: NVIDIA H100 ${(100 * meanAbs(groups[0]![1])).toFixed(1)} % since the fourth round below
(Transformer Engine's backward FP8 GEMMs at cuBLAS's split accumulator; 11.3 % before it, after the
third round had made the model's already optimistic predictions of these rows faster still), A100
${(100 * meanAbs(groups[1]![1])).toFixed(1)} %.

Free search on the NeMo H100 problems (what the runtime executes: cp = 1, the same precision and TP
overlap): median predicted gain over Megatron-Core's hand-tuned layouts **${(100 * nvidiaGain).toFixed(1)} %** (target ≤ 10 %).
Every published layout is expressible (test): Llama 3.1 405B's 126 layers at PP 8 × VP 8 and PP 16,
BLOOM's 70 at PP 12, CP 2 and 16. No published layout is refused: each fits in its GPU's memory under
its stack's accounting (${published.filter((r) => r.published.fits).length}/${published.length}, test), Nemotron-4 340B since Megatron-Core's FP8 primary weights
are counted (${(published.find((r) => r.row.id === "nemo-nemotron-340b")!.published.memory.total / GiB).toFixed(1)} GiB; bf16 weights with TE's FP8 copies on top gave 85.3 GiB; the sources below).

Memory per stack: tessera's own plans count tessera's executors (eager ops: a gated MLP keeps gate, up,
act(gate) and their product) with a 10 % fragmentation margin; a published row is counted with the
published formulas its stack follows: model states by the ZeRO paper (§3: 2 + 2 + 12/d bytes per
parameter at stage 1; Megatron-LM under \`--bf16\` by its own table, 6 + 12/d: fp32 gradients), activations by Korthikanti et al. 2022 (§4: sbh(34 + 5as/h) per layer, ÷t under
TP+SP, the s² term gone under fused attention or selective recompute) with a gated MLP's activation
fused (Megatron-Core's bias_swiglu keeps only its input; 3 elements per MLP width), Transformer Engine's
FP8 GEMM inputs under fp8, live bytes with no margin; 1.5 GiB reserved for every stack. Under fp8 the
weights of the decoder layers' GEMMs are, on Megatron-Core, FP8 primary weights (1 byte per parameter)
plus the transpose Transformer Engine caches for Hopper's backward GEMMs (1 byte), with the fp32 master
in the distributed optimizer's 12/d and the ZeRO all-gather moving the FP8 bytes; on the other stacks
bf16 weights plus TE's cached FP8 copy and its transpose (2 bytes). The embedding and the output layer
(Megatron-Core's \`tensor_parallel.ColumnParallelLinear\`, not a TE module) stay bf16 with no FP8 copy on
every stack. Pipeline ranks hold Megatron-Core's interleaved warm-up, 2(p − r − 1) + (v − 1)·p + 1
chunks (core_r0.11.0 \`pipeline_parallel/schedules.py\` l. 696-699, \`microbatch_group_size_per_vp_stage\`
= p by default), and the first and last stages hold the untied embedding and output layer.

### Third round: the data-parallel and pipeline communication the runs configure

Three rules in \`src/parallel/planner/stack.ts\`, each from the runs' own configuration or the code
that ran them, each for every row of its stack, none fitted (the sources, with versions and lines, are in
stack.ts beside each trait):

- **The gradient reduction's dtype** (\`gradientReduce\`). The cost model charged 4-byte gradients on
  every stack. Megatron-Core as NeMo runs it reduces bf16: \`grad_reduce_in_fp32 = False\` in every NeMo
  2.x performance script (v2.2.0 scripts/llm/performance/pretrain_*.py, whose
  recommended_model_configs/model_configs_h100.csv lines are the NeMo rows' layouts: GPT-3 175B on 128
  and 512 GPUs, Nemotron 8B and Nemotron-4 340B among them); \`optim.grad_sync_dtype=bf16\` in
  NeMo-Framework-Launcher 24.07's FP8 examples; \`mixed_precision.grad_reduce_in_fp32: false\` in
  Megatron-Bridge v0.1.0rc3's (NeMo 25.09) performance configs for Llama 3 8B, 70B and 3.1 405B. DeepSpeed
  (v0.6.2 to v0.7.7) casts BF16_Optimizer's fp32 gradients to its \`communication_data_type\` for the
  all-reduce, bf16 by default under bf16 at ZeRO stage 0, and BLOOM's ds_config sets none: bf16.
  Megatron-LM's \`--bf16\` forces \`accumulate_allreduce_grads_in_fp32\` (fp32; the Korthikanti rows
  have DP 1, so nothing moves). Llama 3 reduce-scatters in fp32 (paper §3.3.2). llm-foundry's MP Mode
  DEFAULT is \`reduce_dtype=torch.float32\` in Composer v0.16.4, the version the table's commit requires
  (before v0.16.4, Oct 2023, DEFAULT left reduce_dtype unset, which FSDP reduces in bf16; the table does
  not name its Composer version); its 70B A100 row ran MP Mode PURE, bf16, which the row states
  (\`grad_reduce\`). tessera's executors reduce in the fp32 master dtype (flat_unit.ts): tessera's own
  plans are unchanged.
- **ZeRO-1's gradient collective** (\`zero1GradientCollective\`). The model charged an all-reduce, as
  tessera's flat units do (they keep the whole reduced gradient). Megatron-Core's distributed optimizer
  reduce-scatters (core_r0.11.0 distributed/param_and_grad_buffer.py l. 309-331), and so does apex's
  DistributedFusedAdam, the optimizer of the NeMo 24.07 launcher configs (apex 24.07
  contrib/optimizers/distributed_fused_adam.py l. 1823-1905); Llama 3's FSDP reduce-scatters (§3.3.2).
  DeepSpeed's BF16_Optimizer all-reduces.
- **Interleaved pipelines overlap their sends** (\`interleavedP2pOverlap\`). Megatron-Core's
  \`overlap_p2p_comm\` posts each chunk's receives and waits on them only before they are needed; NeMo
  2.x and Megatron-Bridge turn it on whenever pp > 1 and vpp > 1, and the 24.07 launcher's interleaved
  configs set it. The model charged every send on the critical path; it now charges them by the one
  overlap rule (\`exposed\`, cost.ts): 2v transfers per micro-batch, each behind a chunk's compute.

| step | NVIDIA H100 mean \|error\| | A100 mean \|error\| | median free-search gain | refused |
| --- | ---: | ---: | ---: | ---: |
| before (e97db69) | 7.1 % | 6.6 % | 6.2 % | 0/32 |
| + gradient reduction dtype per stack | 8.0 % | 6.8 % | 7.0 % | 0/32 |
| + ZeRO-1 reduce-scatter (Megatron-Core, apex, Llama 3) | 9.0 % | 6.8 % | 5.5 % | 0/32 |
| + interleaved sends overlapped (Megatron-Core; 143b9c7) | 11.6 % | 6.8 % | 6.7 % | 0/32 |

Each step moved the NVIDIA mean up because the model already predicted most NeMo rows faster than
published: 13 of the 14 rows were over-predicted after it. The largest misses were not communication:
GPT-3 5B and Llama 2 7B (pure data parallel, compute ≥ 99 % of the predicted step) were over-predicted
by ~14 %, a compute mechanism (the fourth round below), and Llama 3 8B with CP 2 by ~24 % (below). The same setting fixes
the gradient buffer's size where the stack accumulates into the buffer it reduces
(\`gradientBufferInReduceDtype\`: Megatron's main gradients, its own table of 18 bytes per parameter for
bf16 parameters with fp32 gradients, 6 + 12/d distributed, in core_r0.11.0
docs/source/api-guide/dist_optimizer.md): the Korthikanti rows hold 4–5 GiB more than before (fp32
under \`--bf16\`) and still fit; Megatron-Core as NeMo runs it keeps bf16 (4 + 12/d, as before). Llama
3's fp32 gradient accumulation (paper §3.3.2) is not counted in memory: the paper does not say what
buffer holds it.

### Fourth round: Transformer Engine's backward FP8 GEMMs accumulate at full precision

Every NVIDIA row runs FP8 (Transformer Engine on H100). TE runs the forward GEMM (fprop) of each FP8
linear layer with cuBLAS's fast accumulation and the two backward GEMMs (dgrad, wgrad) with the split
accumulator: \`use_split_accumulator\` is \`_2X_ACC_FPROP = False\`, \`_2X_ACC_DGRAD = True\`,
\`_2X_ACC_WGRAD = True\` (TE v1.8 transformer_engine/pytorch/module/base.py l. 41-43; v1.13 l. 44-46;
v2.4 l. 53-55), passed to every FP8 GEMM of linear.py (v1.8 l. 222, 473, 551), layernorm_linear.py
(l. 232, 528, 602) and layernorm_mlp.py (l. 244, 325, 658, 684, 811, 953); v2.4's Float8CurrentScaling
recipe (the 25.09 rows' FP8-CS) sets the same per GEMM (common/recipe/__init__.py l. 208-210); and
common/gemm/cublaslt_gemm.cu (v1.8 l. 142) turns it into \`CUBLASLT_MATMUL_DESC_FAST_ACCUM = 0\`. Without
fast accumulation Hopper's kernels promote the tensor cores' partial sums to FP32 every 128 elements
(pytorch/pytorch issue 147971) and run slower: fast accumulation measured 1.1-1.2x faster (a float8
benchmark in pytorch/ao issue 2377; torchao keeps it for the forward GEMM only, Float8LinearConfig).
The model charged all three GEMMs at one rate, the FP8 peak × 0.68 (hardware.ts), which is a
fast-accumulation rate: TE's own GEMM benchmark (benchmarks/gemm/benchmark_gemm.py, commit 8f2e635,
te.Linear forward calls only, i.e. fprop's fast accumulation for every shape) measured a 4096-wide 5B
layer on an H200 NVL at 19.17 TFLOP per 16.785 ms pre-quantized, 68 % of that card's 1,671 TFLOP/s
dense FP8 peak, and 18.978 ms with delayed scaling's casts (60.5 %; docs/examples/gemm_profiling/
gemm_profiling.rst); the model's H100 fprop at hidden 4096 is 0.68 × 4096/4596 = 60.6 % of peak. Now
dgrad and wgrad run at 1/1.15 of it (the midpoint of the 1.1-1.2x; \`fp8.splitAccumulatorSpeed\` in
the H100/H200 presets, cost.ts \`fp8BackwardGemmExtra\`); a recomputed forward stays an fprop. For
every fp8 row, no fitted factor; bf16 and fp32 are unchanged (no such mode), so are the A100 rows and
tessera's own plans.

| step | NVIDIA H100 mean \|error\| | A100 mean \|error\| | median free-search gain | refused |
| --- | ---: | ---: | ---: | ---: |
| before (HEAD e632fc3) | 11.3 % | 6.8 % | 7.0 % | 0/32 |
| + dgrad and wgrad at 1/1.15 of fprop's rate | ${(100 * meanAbs(groups[0]![1])).toFixed(1)} % | ${(100 * meanAbs(groups[1]![1])).toFixed(1)} % | ${(100 * nvidiaGain).toFixed(1)} % | ${published.filter((r) => !r.published.fits).length}/${published.length} |
| the source's bounds: 1/1.1 and 1/1.2 | 7.3 % and 4.6 % | 6.8 % | 6.9 % | 0/32 |

Per row (before → after): GPT-3 5B 14.3 → 7.6 %, 20B 15.2 → 7.7 %, 175B on 128 GPUs 12.7 → 5.0 %, on
512 6.5 → −0.9 %, Llama 2 7B 13.9 → 7.2 %, 13B 13.5 → 6.9 %, 70B 9.0 → 1.8 %, Nemotron 8B 11.8 → 6.4 %,
Nemotron-4 340B 10.1 → 3.6 %, Llama 3 8B CP 2 24.1 → 17.9 %, 70B CP 2 9.4 → 2.8 %, 8B FSDP 5.1 → −0.1 %,
70B PP 8 −4.1 → −9.6 %, Llama 3.1 405B 8.1 → 0.6 %.

Checked and not the cause: attention runs at the bf16 rate (peak × the attention efficiency; TE's
fused attention stays bf16 under the default recipe, \`fp8_dpa = False\`); the casts of the GEMM
inputs and output gradients to FP8 are charged at HBM bandwidth (3 bytes per element of the four
GEMMs' inputs, forward and backward: ~210 kB per token and layer on Llama 2 7B against ~250 kB for TE's
cast-transposes counted one by one, under 1 % of the step); the weights' FP8 cast and transpose happen
once per step (Megatron-Core's MegatronModule.set_is_first_microbatch refreshes TE's FP8 weight cache
at a step's first micro-batch; none with FP8 primary weights), ~0.3 % of Llama 2 7B's step; delayed scaling's
amax reduction is one small all-reduce per micro-batch, latency-bound. The GEMM curve is read at h/t
for every layer GEMM, which for the compute-bound TP 1 rows is each GEMM's narrowest dimension
(h ≤ ffn, q = h, 4096+ tokens); with TP the QKV and MLP GEMMs are wider than h/t, so the TP rows' rates
are conservative there (left as is: the SC'21 fit reads the curve the same way). NVIDIA's tables
(NeMo 24.07, Megatron-Bridge 25.09-26.02) have no BF16 row for these dense models on H100, so no
same-model FP8-over-BF16 check was added.

### NeMo's FP8 recipe: what the sources say (the rule behind the Nemotron-4 340B row)

The row (NeMo 24.07 table: H100, FP8, 128 GPUs, TP 8 PP 8 VP 12, DP 2, GBS 32, mbs 1, seq 4096, TP
overlap) needed 85 GiB while TE's cached FP8 copies were counted on top of bf16 weights. The sources:

- NeMo 2.x's FP8 recipe keeps primary weights in FP8. \`bf16_with_fp8_mixed\` in
  [nemo/collections/llm/recipes/precision/mixed_precision.py](https://github.com/NVIDIA/NeMo/blob/v2.2.0/nemo/collections/llm/recipes/precision/mixed_precision.py)
  sets \`fp8_params = True\` (since v2.1.0, commit 3e251a0418, Sep 2024; \`fp8_param_gather = True\`
  from v2.3.0). \`MegatronMixedPrecision\` (nemo/lightning/pytorch/plugins/mixed_precision.py, v2.2.0
  l. 99-105) then sets TE's \`FP8GlobalStateManager.FP8_PARAMETERS\` (what \`fp8_model_init\` sets) and
  \`fp8_param_gather\`. Megatron-Bridge (the 25.09 rows) sets \`fp8_param_gather = True\` in
  \`bf16_with_fp8_delayed_scaling_mixed\` and \`bf16_with_fp8_current_scaling_mixed\`
  (src/megatron/bridge/training/mixed_precision.py).
- NeMo's performance script for this model,
  [scripts/llm/performance/pretrain_nemotron4_340b.py](https://github.com/NVIDIA/NeMo/blob/v2.2.0/scripts/llm/performance/pretrain_nemotron4_340b.py)
  (v2.2.0, the 25.02 tables), runs fp8 with \`bf16_with_fp8_mixed()\` and \`grad_reduce_in_fp32 = False\`,
  at the layout of recommended_model_configs/model_configs_h100.csv:
  \`pre_train,nemotron4,340b,h100,fp8,128,4096,8,8,1,2,1,12,1,32\` — this row's layout exactly. (Its bf16
  line runs CP 2, DP 1.)
- Transformer Engine v1.13 (transformer_engine/pytorch/module/base.py l. 938-952): a primary FP8 weight
  is \`Float8Tensor.to_float8(param, …, with_transpose_cache=torch.is_grad_enabled())\`, 1 byte of data
  and a 1-byte transpose cache, refilled each step (module/linear.py l. 970-980); a bf16 weight is cast
  into a cached FP8 workspace with its transpose (base.py l. 1031-1048, cached across micro-batches
  under \`cache_name="weight"\`). TE 2.x (tensor/float8_tensor.py, \`is_non_tn_fp8_gemm_supported\`)
  keeps no separate transpose where FP8 GEMMs take non-TN layouts (compute capability 10.x, Blackwell):
  the transpose is a Hopper cost, which is what the H100/H200 fp8 what-if models.
- Megatron-Core core_r0.11.0: an FP8 parameter's DDP buffer is uint8 and its gradient bf16 unless
  \`grad_reduce_in_fp32\` (distributed/distributed_data_parallel.py l. 114-123); the distributed
  optimizer makes each rank's fp32 main parameter from it (optimizer/distrib_optimizer.py l. 345-375).
- NeMo 24.07 itself (NeMo 1.x, NeMo-Framework-Launcher tag 24.07) is silent for this row: no public
  NeMo or launcher script of that release runs Nemotron-4 340B in FP8;
  launcher_scripts/conf/training/nemotron/nemotron_340b.yaml is the 768-node bf16 pretraining config (PP 12, VP 8, apex \`distributed_fused_adam\` with \`dtype: bf16\`,
  \`grad_sync_dtype: bf16\`); its December 2024 revision moved to PP 8, VP 12 and TP overlap (this
  layout) and Megatron-Core's optimizer, without \`fp8_params\`. The launcher's FP8 example scripts
  (examples/training/*/h100/*_fp8*.sh) set \`fp8=True\` and \`optim.grad_sync_dtype=bf16\` but not
  \`fp8_params\`, which only the MLPerf GPT-3 configs set; they run apex's DistributedFusedAdam, which
  NeMo 1.x gives fp32 m and v and bf16 parameter remainders instead of an fp32 master
  (megatron_base_model.py, \`store_param_remainders\`: 10 bytes per parameter of state, not 12). Counted
  that way (bf16 weights and TE's copy and transpose, bf16 gradients, 10/d of state), this row would
  need 78.8 GiB; with FP8 primary weights it needs 74.6 GiB. Either way it fits; the model counts the
  NeMo 2.x rule, the one a public recipe states for this layout.
- Gradients: NeMo reduces them in bf16 for these runs (\`grad_reduce_in_fp32 = False\` in the NeMo 2.x
  performance scripts; \`grad_sync_dtype=bf16\` in the 24.07 FP8 examples: the dtype of apex's
  unsharded gradient buffer, \`_init_grad_buffer\` in apex/contrib/optimizers/distributed_fused_adam.py,
  or Megatron-Core's \`grad_reduce_in_fp32=False\` under \`mcore_distributed_optim\`,
  megatron_gpt_model.py). The memory model's 2-byte gradient buffer matches, and the cost model's
  reduction moves bf16 on Megatron-Core (the third round above).

Where it misses: Llama 3 70B at PP 8 is under-predicted by ~10 % (the fourth round moved it from −4 %); BLOOM is over-predicted by ~12 % (its 150 TFLOP/s is the rounded figure of the
BigScience pages; the BLOOM paper and GENCI state 156, which would leave ~8 %); Llama 3 8B with CP 2 is over-predicted by ~18 % (ring
attention's chunked kernels are slower than one fused kernel, which the model does not charge); Llama 3
405B on 16K GPUs is under-predicted by ~27 % (the row's plain 1F1B leaves a 46 % bubble at 16
micro-batches over 16 stages; Meta ran an interleaved schedule whose depth the row does not carry); the PyTorch-FSDP stack (llm-foundry) on H100 is
over-predicted by 20–60 %: its kernels reach less of the H100's peak than the GEMM curve, which comes
from Megatron's on A100 — the same stack's A100 rows (added in issue 17 from the same README, not
fitted to) are within 1–17 %, so the miss is the H100 kernels', and \`tessera plan --calibrate\`
measures the stack at hand instead.

Columns: layout is tp/pp(×vpp)/dp/cp; split is compute+recompute / TP+CP comm / bubble+p2p / DP+optimizer,
% of the predicted step; free search is the planner's own plan on the same problem (gain over the
published layout's predicted tokens/s).

| row | source | software | GPUs | precision | layout | seq | mbs/batch | ZeRO, recompute | published tok/s/GPU | predicted | error | GiB | split % | free search (gain) |
| --- | --- | --- | --- | --- | --- | ---: | --- | --- | ---: | ---: | ---: | ---: | --- | --- |
${publishedLines.join("\n")}

## Baichuan2-13B on H100s (sequence 1024, global batch 256)

${runs.join("\n\n")}
`;

// The measured-against-predicted section is bench/planner_measured.ts's (a CPU run of minutes): kept as it is.
const docFile = resolve(root, "docs/planner-validation.md");
const MEASURED = "<!-- bench/planner_measured.ts -->";
let measured = "";
try {
  const old = readFileSync(docFile, "utf8");
  if (old.includes(MEASURED)) measured = old.slice(old.indexOf(MEASURED));
} catch {
  // No doc yet: nothing to keep.
}
writeFileSync(docFile, measured === "" ? doc : `${doc}\n${measured}`);
console.log(`wrote docs/planner-validation.md (max |error| ${(100 * maxError).toFixed(1)} %)`);
