#!/usr/bin/env bash
# What issue 14 asks to show on a machine with an NVIDIA GPU, in one go (never run yet: no GPU was available
# while the backend was written). Builds with CUDA into build-cuda/ (sm_90; more with
# GEMMA4_CUDA_ARCHITECTURES="80;89" in the environment), runs the CUDA tests (every kernel against its CPU op,
# every golden through gemma4-eval golden --device cuda, speculative = plain greedy on the GPU), then
# gemma4-bench --device cuda on random real-shape models (BF16 and Q8_0). Each step prints its command.
#   scripts/cuda-check.sh            tests and benchmarks
#   scripts/cuda-check.sh --tests    tests only
set -euo pipefail
cd "$(dirname "$0")/.."
run() { echo "\$ $*"; "$@"; }
run cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DGEMMA4_CUDA_ARCHITECTURES="${GEMMA4_CUDA_ARCHITECTURES:-}" -DGEMMA4_BUILD_TESTS=ON
run cmake --build build-cuda --target test_cuda gemma4-eval gemma4-run gemma4-bench
run ctest --test-dir build-cuda -R '^cuda_' --output-on-failure
[ "${1:-}" = --tests ] && exit 0
for preset in e2b 26b-a4b 31b; do
  for dtype in bf16 q8_0; do
    run ./build-cuda/gemma4-bench --device cuda --random "$preset" --dtype "$dtype" -p 512 -n 64 -r 2 --json
  done
done
