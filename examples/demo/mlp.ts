// The main job until the fine-tuning tutorial lands: a 2-layer MLP fitted with autograd and plain
// SGD to a synthetic regression target, printing its loss.
import { torch } from "../../src/index.js";

torch.manual_seed(0);
const n = 512;
const x = torch.randn(n, 8);
const trueW = torch.randn(8, 1);
const y = x.matmul(trueW).sin().add(torch.randn(n, 1).mul(0.05));

const w1 = torch.randn(8, 32).mul(0.3).requires_grad_();
const b1 = torch.zeros(32, { requires_grad: true });
const w2 = torch.randn(32, 1).mul(0.3).requires_grad_();
const b2 = torch.zeros(1, { requires_grad: true });
const params = [w1, b1, w2, b2];
const lr = 0.2;

for (let step = 0; step <= 500; step++) {
  const hidden = x.matmul(w1).add(b1).relu();
  const loss = hidden.matmul(w2).add(b2).sub(y).pow(2).mean();
  loss.backward();
  torch.no_grad(() => {
    for (const p of params) {
      p.sub_(p.grad!.mul(lr));
      p.grad = null;
    }
  });
  if (step % 50 === 0) console.log(`step ${String(step).padStart(3)} | loss ${loss.item().toFixed(5)}`);
}
