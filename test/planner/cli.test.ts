import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { test } from "node:test";
import { configPath, repoRoot } from "./reference.js";

function tessera(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [resolve(repoRoot, "bin/tessera.mjs"), "plan", ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("tessera plan --json prints the contract object", () => {
  const r = tessera("--model", configPath("Baichuan2-13B-Base"), "--gpus", "16", "--seq-len", "1024", "--global-batch", "256", "--json");
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  for (const key of ["dp", "tp", "pp", "vpp", "micro_batch", "grad_accum", "zero", "recompute", "sequence_parallel", "offload"])
    assert.ok(key in out.plan, key);
  for (const key of ["step_time_s", "tokens_per_s", "tflops_per_gpu", "mfu", "memory_per_gpu_bytes"])
    assert.equal(typeof out.predicted[key], "number", key);
  assert.equal(out.plan.dp * out.plan.tp * out.plan.pp, 16);
  assert.ok(out.predicted.memory_per_gpu_bytes <= 80 * 2 ** 30);
  assert.ok(Array.isArray(out.alternatives) && out.alternatives.length > 0 && "plan" in out.alternatives[0]);
  assert.equal(typeof out.search_ms, "number");
});

test("tessera plan prints a table; --fix holds choices", () => {
  const r = tessera("--model", "llama-2-7b", "--gpus", "8", "--gpu", "a100-80gb", "--fix", "tp=2,zero=1");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /llama-2-7b on 8 × A100-80GB/);
  assert.match(r.stdout, /^best\s+\d+\s+2\+sp\s+\d+(×\d+)?\s+\d+\s+\d+\s+1\s/m);
  assert.match(r.stdout, /where the time goes/);
  assert.match(r.stdout, /memory per GPU/);
});

test("bad usage gets a clear message and exit code 2; a well-formed problem with no plan exit code 3 naming the rule", () => {
  const usage = tessera("--help");
  assert.equal(usage.code, 0);
  assert.match(usage.stdout, /usage: tessera plan --model/);
  const cases: Array<[string[], RegExp]> = [
    [["--gpus", "8"], /--model is required/],
    [["--model", "llama-9", "--gpus", "8"], /unknown model preset 'llama-9' \(known: llama-2-7b/],
    [["--model", "/no/such/config.json", "--gpus", "8"], /cannot read model config '\/no\/such\/config.json'/],
    [["--model", "llama-2-7b", "--gpus", "8", "--gpu", "tpu"], /unknown GPU preset 'tpu'/],
    [["--model", "llama-2-7b", "--gpus", "8", "--fix", "tp"], /--fix: malformed 'tp'/],
    [["--model", "llama-2-7b", "--gpus", "zero"], /--gpus zero: expected a positive integer/],
    [["--model", "llama-2-7b", "--gpus", "12"], /--gpus 12 is not a whole number of nodes of 8 GPUs/],
    [["--bogus"], /Unknown option '--bogus'/],
    // Absurd sizes are refused before any search (issue 19, finding 9: --global-batch 1e12 searched for 100 s).
    [
      ["--model", "llama-2-7b", "--gpus", "8", "--global-batch", "1000000000000"],
      /--global-batch 1000000000000: expected at most 16777216/,
    ],
    [["--model", "llama-2-7b", "--gpus", "8", "--global-batch", "1e12"], /--global-batch 1e12: expected a positive integer/],
    [["--model", "llama-2-7b", "--gpus", "8", "--seq-len", "99999999999"], /--seq-len 99999999999: expected at most 16777216/],
    [["--model", "llama-2-7b", "--gpus", "9007199254740993"], /--gpus 9007199254740993: expected a positive integer/],
  ];
  for (const [args, message] of cases) {
    const r = tessera(...args);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr + r.stdout, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
  const big = tessera("--model", configPath("Baichuan2-13B-Base"), "--gpus", "1", "--seq-len", "1024", "--global-batch", "256");
  assert.equal(big.code, 3);
  assert.match(
    big.stdout,
    /no plan fits Baichuan2-13B-Base .* on 1 × H100-SXM-80GB: rule "memory per GPU ≤ 80 GiB device memory .*": the leanest plan \(.*\) needs [\d.]+ GiB per GPU.* The smallest cluster that fits is 2 GPUs \(dp=2 /,
  );
  // A layout rule: named, with the best free plan and the smallest cluster.
  const tp3 = tessera("--model", "llama-2-7b", "--gpus", "8", "--fix", "tp=3");
  assert.equal(tp3.code, 3, tp3.stderr);
  assert.match(
    tp3.stdout,
    /no plan fits llama-2-7b .* on 8 × H100-SXM-80GB: rule "dp·tp·pp·cp = GPUs": tp=3 does not divide 8 GPUs\. Without the fixed choices the best plan is dp=/,
  );
  // --json carries the rule and the smallest cluster on which the fixed choices fit.
  const dp3 = tessera("--model", "llama-2-7b", "--gpus", "8", "--global-batch", "48", "--fix", "dp=3", "--json");
  assert.equal(dp3.code, 3);
  const json = JSON.parse(dp3.stdout) as {
    fits: boolean;
    rule: string;
    error: string;
    smallest_fit: { gpus: number; keeps_fixed: boolean; plan: { dp: number } };
  };
  assert.deepEqual([json.fits, json.rule], [false, "dp·tp·pp·cp = GPUs"]);
  assert.match(json.error, /dp·tp·pp·cp=3 does not divide 8 GPUs/);
  assert.equal(json.smallest_fit.keeps_fixed, true);
  assert.equal(json.smallest_fit.plan.dp, 3);
  assert.equal(json.smallest_fit.gpus % 3, 0);
});
