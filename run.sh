#!/usr/bin/env bash
# Sets up (Debian packages), builds the four tools (gemma4-run, gemma4-eval, gemma4-bench, gemma4-quantize in
# build/), and runs gemma4-run. With no arguments it runs the embedded tiny golden model (random weights: the ids
# it prints mean nothing). Arguments go to gemma4-run.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target gemma4-run gemma4-eval gemma4-bench gemma4-quantize
exec ./build/gemma4-run "$@"
