// Alpha-beta cost of NCCL-style collectives. Bandwidth term: a ring moves 2(n−1)/n of the message per
// device for all-reduce, (n−1)/n for all-gather and reduce-scatter, at the link's bus bandwidth.
// Latency term: NCCL switches to trees at scale, so the startup cost grows with log2(n), not n.
// A measured profile may time all-gather and reduce-scatter on their own (LinkProfile.byKind): then
// each is its measured line in the message's bytes; so is a point-to-point message (LinkProfile.p2p).
import { linkBandwidth, type LinkProfile } from "./hardware.js";

export type Collective = "all_reduce" | "all_gather" | "reduce_scatter";

/** Seconds for a collective over `n` devices where `bytes` is the full (unsharded) message size. */
export function collectiveTime(kind: Collective, bytes: number, n: number, link: LinkProfile): number {
  if (n <= 1 || bytes <= 0) return 0;
  const measured = kind === "all_reduce" ? undefined : nearestAtOrBelow(link.byKind?.[kind] ?? [], n);
  if (measured !== undefined) return measured[1] + bytes / measured[2];
  const passes = kind === "all_reduce" ? 2 : 1;
  return passes * (Math.ceil(Math.log2(n)) * link.latencyS + ((n - 1) / n) * (bytes / linkBandwidth(link, n)));
}

/** Seconds to send `bytes` point-to-point over a link: its measured line where the profile has one. */
export function p2pTime(bytes: number, link: LinkProfile): number {
  if (link.p2p !== undefined) return link.p2p[0] + bytes / link.p2p[1];
  return link.latencyS + bytes / link.bandwidthBytesPerS;
}

/** The measured point of the largest group size at or below `n`. */
function nearestAtOrBelow<T extends [number, ...number[]]>(points: T[], n: number): T | undefined {
  let best: T | undefined;
  for (const point of points) if (point[0] <= n && (best === undefined || point[0] > best[0])) best = point;
  return best;
}
