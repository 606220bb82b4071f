#!/usr/bin/env bash
# The one script for a lent GPU machine (see ../shared/gpu/README.md): builds the addon against the
# machine's CUDA torch, runs the CUDA tests and the core tests, then the dispatch and training-step
# benchmarks beside Python PyTorch, and writes card, versions and numbers to $OUT (default ./gpu-out).
# Prepare here first:  bash ../shared/gpu/prepare.sh
# Run there (device tool), carrying .device and the runtime node_modules:
#   carry: .device node_modules/tsx node_modules/esbuild node_modules/@esbuild node_modules/@huggingface
#   command: bash scripts/gpu-check.sh
set -uo pipefail
out=${OUT:-$PWD/gpu-out}
mkdir -p "$out"
source .device/boot.sh 2>&1 | tee "$out/versions.txt"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$out/versions.txt"
export TESSERA_PYTHON=${TESSERA_PYTHON:-python3}
{
  node scripts/build-native.mjs && node scripts/gen-ops.mjs
} > "$out/build.log" 2>&1 || { tail -50 "$out/build.log"; exit 1; }
node scripts/run-tests.mjs --cuda 2>&1 | tee "$out/cuda-tests.log" | tail -15
node scripts/run-tests.mjs test/core 2>&1 | tee "$out/core-tests.log" | tail -15
node --import tsx bench/dispatch.ts 7 --device cuda 2>&1 | tee "$out/bench-dispatch-cuda.txt"
node --import tsx bench/dispatch.ts 2>&1 | tee "$out/bench-dispatch-cpu.txt"
# Issue 21's CUDA step: Llama-2-7B's layer shape in bf16 beside PyTorch eager (bench/llama_sizes.ts).
node --import tsx bench/train_step.ts 3 --device cuda 2>&1 | tee "$out/bench-train-step-cuda.txt"
# The float32 CPU linear in oneDNN against MKL on this machine's CPU (bench/RESULTS.md, seventh
# pass: measured on an AMD EPYC only, where MKL takes its AVX2 path).
node --import tsx bench/train_step.ts 3 --size small 2>&1 | tee "$out/bench-train-step-cpu-onednn.txt"
node --import tsx bench/train_step.ts 3 --size small --mkldnn off 2>&1 | tee "$out/bench-train-step-cpu-mkl.txt"
