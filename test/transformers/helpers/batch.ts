// The token batch the model tests share, and comparisons restricted to real (non-pad) tokens.
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { torch } from "../../../src/index.js";
import type { Tensor } from "../../../src/torch/tensor.js";
import { assertClose } from "../../helpers/oracle.js";

/** Row 0 left-padded by 3, row 1 right-padded by 2, row 2 unpadded; 10 tokens each. */
export function tokenBatch(vocab: number): { ids: Tensor; mask: Tensor; labels: Tensor; position_ids: Tensor } {
  const g = new torch.Generator().manual_seed(1234);
  const ids = torch.randint(0, vocab, [3, 10], { generator: g });
  const mask = torch.ones([3, 10], { dtype: torch.int64 });
  mask.index_put_(
    [torch.tensor([0, 0, 0, 1, 1], { dtype: torch.int64 }), torch.tensor([0, 1, 2, 8, 9], { dtype: torch.int64 })],
    torch.tensor(0, { dtype: torch.int64 }),
  );
  const labels = ids.masked_fill(mask.eq(0), -100);
  // What generate() passes for left padding: cumsum(mask) - 1, with pads at 1.
  const position_ids = mask.cumsum(-1).sub(1).masked_fill(mask.eq(0), 1);
  return { ids, mask, labels, position_ids };
}

/** Compares two [batch, seq, ...] tensors at the positions where `mask` is 1. */
export function assertCloseOnTokens(
  actual: Tensor,
  expected: Tensor,
  mask: Tensor,
  opts: { rtol: number; atol: number; msg: string },
): void {
  const keep = mask.bool();
  assertClose(actual.index([keep]), expected.index([keep]), opts);
}

export function tempDir(tag: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `tessera-${tag}-`));
}
