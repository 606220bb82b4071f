import { test } from "node:test";
import { torch } from "../src/index.js";
import { assertClose, runPython } from "./helpers/oracle.js";

test("add and matmul match Python PyTorch", () => {
  torch.manual_seed(1);
  const a = torch.randn(3, 4);
  const b = torch.randn(4, 2);
  const out = runPython("out['mm'] = a @ b; out['add'] = a + 1.5", { a, b });
  assertClose(a.matmul(b), out.mm as torch.Tensor);
  assertClose(a.add(1.5), out.add as torch.Tensor);
});
