// The order in which each pipeline rank runs the forwards and backwards of its model chunks:
// 1F1B (PipeDream-Flush, Narayanan et al. 2021) with one chunk per rank, interleaved 1F1B with
// vpp chunks per rank (Megatron-LM's schedule). Chunk c runs on rank c mod pp (planner/stages.ts).
//
// Forwards visit the micro-batches in groups of pp: for each group, every local chunk in turn runs
// the group's micro-batches; backwards visit the chunks in reverse. A rank first runs `warm-up`
// forwards (1F1B: one per later rank; interleaved: 2(pp − r − 1) + (vpp − 1)·pp, Megatron's
// count), then alternates one forward and one backward, then drains the backwards. The micro-batch
// count need not be a multiple of pp (the last group is short). With sends that never block, every
// rank's order is deadlock-free and both ends of each link see its messages in the same order
// (test/parallel/pp_schedule.test.ts checks both by simulation, with the bubble and the memory).

export interface PipelineStep {
  kind: "F" | "B";
  /** The global chunk index (its layers are chunk `chunk` of planner/stages.ts's split). */
  chunk: number;
  microBatch: number;
}

/** Forwards before the first backward on `rank`. */
export function warmUpSteps(pp: number, vpp: number, microBatches: number, rank: number): number {
  const total = microBatches * vpp;
  return Math.min(vpp === 1 ? pp - rank - 1 : 2 * (pp - rank - 1) + (vpp - 1) * pp, total);
}

/** `rank`'s (local chunk, micro-batch) pairs in the order its forwards (or backwards, reversed chunks) visit them. */
function visits(pp: number, vpp: number, microBatches: number, backward: boolean): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let first = 0; first < microBatches; first += pp) {
    const group = Array.from({ length: Math.min(pp, microBatches - first) }, (_, i) => first + i);
    for (let k = 0; k < vpp; k++) {
      const local = backward ? vpp - 1 - k : k;
      for (const mb of group) out.push([local, mb]);
    }
  }
  return out;
}

/** Every forward and backward `rank` runs, in order. */
export function pipelineOrder(pp: number, vpp: number, microBatches: number, rank: number): PipelineStep[] {
  const step = (kind: "F" | "B", [local, microBatch]: [number, number]): PipelineStep => ({ kind, chunk: local * pp + rank, microBatch });
  const forwards = visits(pp, vpp, microBatches, false).map((v) => step("F", v));
  const backwards = visits(pp, vpp, microBatches, true).map((v) => step("B", v));
  const warm = warmUpSteps(pp, vpp, microBatches, rank);
  const order = forwards.slice(0, warm);
  for (let i = 0; i < backwards.length; i++) {
    if (warm + i < forwards.length) order.push(forwards[warm + i]);
    order.push(backwards[i]);
  }
  return order;
}

/** A message by the step that takes it: `F3/1` is the activation chunk 3's forward of micro-batch 1 receives, `B2/1` the gradient chunk 2's backward receives. */
export function messageKey(kind: "F" | "B", chunk: number, microBatch: number): string {
  return `${kind}${chunk}/${microBatch}`;
}

/** The message a step sends (to the rank of the chunk it names), or null (the first chunk's backward, the last chunk's forward). */
function sentBy(s: PipelineStep, chunks: number): { key: string; chunk: number } | null {
  const chunk = s.kind === "F" ? s.chunk + 1 : s.chunk - 1;
  return chunk < 0 || chunk >= chunks ? null : { key: messageKey(s.kind, chunk, s.microBatch), chunk };
}

/**
 * When `rank`'s sends have surely arrived, so that waiting on one neither blocks nor waits long: by
 * the key of a message `rank` receives, the messages it sent that had arrived before that one was
 * sent. A peer sends a step's message when the step ends, after taking what the step receives; so
 * the first message the peer sends to `rank` at or after the step that takes `rank`'s message comes
 * after it. A Gloo send's Work reports no completion until it is waited on and pins its tensor until
 * then; sends that nothing follows are waited on at the schedule's end.
 */
export function sendsArrivedBy(pp: number, vpp: number, microBatches: number, rank: number): Map<string, string[]> {
  const chunks = pp * vpp;
  const orders = Array.from({ length: pp }, (_, r) => pipelineOrder(pp, vpp, microBatches, r));
  const out = new Map<string, string[]>();
  for (const s of orders[rank]) {
    const sent = sentBy(s, chunks);
    if (sent === null) continue;
    const peer = orders[sent.chunk % pp];
    const taken = peer.findIndex((p) => messageKey(p.kind, p.chunk, p.microBatch) === sent.key);
    const reply = peer
      .slice(taken)
      .map((p) => sentBy(p, chunks))
      .find((m) => m !== null && m.chunk % pp === rank);
    if (reply) out.set(reply.key, [...(out.get(reply.key) ?? []), sent.key]);
  }
  return out;
}
