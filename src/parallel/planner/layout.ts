// How a plan lays the model and the GPUs out: parameters held by one rank of each pipeline stage, and
// which link (NVLink inside a node, the network between nodes) each communication group uses.
import { linkBandwidth, type LinkProfile } from "./hardware.js";
import { embeddingParams, finalNormParams, headParams, layerParams, layerReplicatedParams, type ModelProfile } from "./model_profile.js";
import type { Plan, Problem } from "./space.js";
import type { StackTraits } from "./stack.js";
import { chunkLayers, stageLayers } from "./stages.js";

/**
 * Parameters of one layer on one TP rank: GEMM weights and column-parallel biases split t ways (k/v
 * heads fewer than t are stored as slices of their head and gathered for compute, so nothing is
 * stored twice), norms and row-parallel biases replicated.
 */
export function rankLayerParams(m: ModelProfile, tp: number): number {
  const replicated = layerReplicatedParams(m);
  return (layerParams(m).total - replicated) / tp + replicated;
}

/** Rows of the vocabulary on one TP rank: the vocabulary padded to a multiple of tp, split. */
export function rankVocab(m: ModelProfile, tp: number): number {
  return Math.ceil(m.vocab / tp);
}

export interface StageParams {
  /** Decoder layers on each pipeline stage, first to last (stages.ts splits them). */
  layers: number[];
  /** Parameters on one rank of the first stage (its layers and the input embedding). */
  first: number;
  /** Parameters on one rank of the last stage (its layers, final norm and output projection; a copy
   *  of the tied embedding when the pipeline puts it on another stage). */
  last: number;
  /** Parameters on one rank of each stage, first to last. */
  perStage: number[];
}

export function stageParams(
  m: ModelProfile,
  plan: Pick<Plan, "tp" | "pp"> & Partial<Pick<Plan, "vpp">>,
  pipelineSplit: StackTraits["pipelineSplit"] = "balanced",
): StageParams {
  const split = stageLayers(chunkLayers(m, { pp: plan.pp, vpp: plan.vpp ?? 1 }, pipelineSplit), plan.pp);
  const perLayer = rankLayerParams(m, plan.tp);
  // Vocab-parallel rows (padded); GPT-2's position embeddings are replicated.
  const vocabRows = rankVocab(m, plan.tp) * m.hidden;
  const embedding = vocabRows + (embeddingParams(m) - m.vocab * m.hidden);
  const head = (m.tiedEmbeddings ? (plan.pp > 1 ? vocabRows : 0) : headParams(m) === 0 ? 0 : vocabRows) + finalNormParams(m);
  const perStage = split.map((n, s) => n * perLayer + (s === 0 ? embedding : 0) + (s === plan.pp - 1 ? head : 0));
  return { layers: split, first: perStage[0], last: perStage[plan.pp - 1], perStage };
}

/**
 * Ranks are numbered TP fastest, then CP, then DP, then PP (Megatron's order), so a group of `size` ranks at
 * `stride` stays inside a node when stride·size ≤ GPUs per node.
 */
export function groupLink(problem: Problem, stride: number, size: number): LinkProfile {
  return stride * size <= problem.gpusPerNode ? problem.hardware.intraNode : problem.hardware.interNode;
}

/**
 * The link a collective over `size` ranks at `stride` sees. Inside a node: NVLink. Across nodes, a
 * ring (NCCL runs one per NIC) crosses each node boundary on every NIC the group's members in that
 * node own: a group with k members per node moves k NICs' worth, so its bus bandwidth is k times a
 * device's share of the network (nccl-tests' multi-node busbw on DGX nodes is the node's aggregate NIC
 * rate), never more than NVLink's. Point-to-point sends use `groupLink` (one NIC each).
 */
export function collectiveLink(problem: Problem, stride: number, size: number): LinkProfile {
  if (stride * size <= problem.gpusPerNode) return problem.hardware.intraNode;
  const { intraNode, interNode } = problem.hardware;
  const perNode = stride >= problem.gpusPerNode ? 1 : Math.max(1, Math.min(size, Math.floor(problem.gpusPerNode / stride)));
  const bandwidth = Math.min(linkBandwidth(intraNode, size), perNode * linkBandwidth(interNode, size));
  return { bandwidthBytesPerS: bandwidth, latencyS: interNode.latencyS };
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * Ranks of one gradient-reduction group that share a node. The group is the dp·cp ranks holding the
 * same weights (context-parallel ranks reduce their gradients with the data-parallel ones, as
 * Megatron does); it runs at stride tp (ranks TP fastest, then CP, then DP, then PP), so a node of G
 * GPUs holds G/tp consecutive ranks of it; the node-local group is the largest size dividing both that
 * and dp·cp, so each one tiles a node exactly. 1 when tp does not divide G.
 */
export function nodeLocalDp(problem: Pick<Problem, "gpusPerNode">, plan: Pick<Plan, "dp" | "tp"> & Partial<Pick<Plan, "cp">>): number {
  return problem.gpusPerNode % plan.tp === 0 ? gcd(plan.dp * (plan.cp ?? 1), problem.gpusPerNode / plan.tp) : 1;
}

/** Ranks ZeRO shards model states over: the dp·cp group, or its node-local part under hybrid sharding. */
export function zeroShardDegree(
  problem: Pick<Problem, "gpusPerNode">,
  plan: Pick<Plan, "dp" | "tp" | "hybridShard"> & Partial<Pick<Plan, "cp">>,
): number {
  return plan.hybridShard ? nodeLocalDp(problem, plan) : plan.dp * (plan.cp ?? 1);
}
