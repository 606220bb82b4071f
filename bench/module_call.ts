// What calling a module costs: `module(x)` (Python's `__call__`, a callable module) against
// `module.forward(x)` in the same process, for one layer and for a module whose forward calls its
// submodules; and, as the baseline for attribute reads, the same Linear computed by a plain class
// (not a Module) from its own fields. Process CPU time, median of rounds after a warm-up. Not a test.
// Run: node --max-semi-space-size=1 --import tsx bench/module_call.ts [rounds]
import { cpus } from "node:os";
import { torch } from "../src/index.js";

const ROUNDS = Number(process.argv[2] ?? 9);
const N = 20000;
torch.set_num_threads(1);
torch.manual_seed(0);
const { nn } = torch;
const F = nn.functional;
type Tensor = torch.Tensor;

class Mlp extends nn.Module {
  fc1 = new nn.Linear(8, 16);
  act = new nn.ReLU();
  fc2 = new nn.Linear(16, 8);
  override forward(x: Tensor): Tensor {
    return this.fc2(this.act(this.fc1(x)));
  }
}

class MlpForward extends Mlp {
  override forward(x: Tensor): Tensor {
    return this.fc2.forward(this.act.forward(this.fc1.forward(x)));
  }
}

/** A Linear's computation from a plain object's fields: no Module, no hooks, no callable. */
class PlainLinear {
  constructor(
    readonly weight: Tensor,
    readonly bias: Tensor,
  ) {}
  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
}

const x = torch.randn(4, 8);
const lin = new nn.Linear(8, 8);
const plain = new PlainLinear(lin.weight, lin.bias as Tensor);
const mlp = new Mlp();
const mlpForward = new MlpForward();
mlpForward.load_state_dict(mlp.state_dict());

const cases: Record<string, () => unknown> = {
  "Linear 8->8, plain class forward (baseline)": () => plain.forward(x),
  "Linear 8->8, lin.forward(x)": () => lin.forward(x),
  "Linear 8->8, lin(x)": () => lin(x),
  "MLP 8-16-8, .forward throughout": () => mlpForward.forward(x),
  "MLP 8-16-8, module(x) throughout": () => mlp(x),
};

function perCallUs(fn: () => unknown, n: number): number {
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) fn();
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / n;
}

const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (const fn of Object.values(cases)) perCallUs(fn, N / 4);
// Rounds interleave the cases, so a change in the machine's load touches them alike.
for (let r = 0; r < ROUNDS; r++) for (const [name, fn] of Object.entries(cases)) times[name].push(perCallUs(fn, N));
const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

console.log(
  `machine: ${cpus().length}-core CPU (${cpus()[0]?.model.trim()}), node ${process.version}, torch ${torch.version.__version__}; ${N} calls a round, median of ${ROUNDS}\n`,
);
console.log("| case | µs per call | ratio to its baseline |");
console.log("| --- | ---: | ---: |");
const base: Record<string, string> = {
  "Linear 8->8, lin.forward(x)": "Linear 8->8, plain class forward (baseline)",
  "Linear 8->8, lin(x)": "Linear 8->8, lin.forward(x)",
  "MLP 8-16-8, module(x) throughout": "MLP 8-16-8, .forward throughout",
};
for (const name of Object.keys(cases)) {
  const m = median(times[name]);
  const b = base[name];
  console.log(`| ${name} | ${m.toFixed(2)} | ${b === undefined ? "" : `${(m / median(times[b])).toFixed(3)} (vs ${b.split(", ")[1]})`} |`);
}
