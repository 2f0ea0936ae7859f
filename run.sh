#!/usr/bin/env bash
# Sets up (Debian packages), builds the four tools (gemma4-run, gemma4-eval, gemma4-bench, gemma4-quantize in
# build/), and runs gemma4-run.
#   ./run.sh                  streams a continuation of a default prompt from golden/trained_e2b, the tiny
#                             Gemma 4 trained on the King James Bible (golden/train/README.md), with its tokenizer
#   ./run.sh -p "TEXT"        continues TEXT with that model (raw text, no chat template: it was not
#                             trained to chat)
#   ./run.sh -m DIR ...       any other model: the arguments go to gemma4-run unchanged
# Without -m, the defaults below come first, so an argument given here overrides its default.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target gemma4-run gemma4-eval gemma4-bench gemma4-quantize
for arg in "$@"; do
  case "$arg" in -m | --model | --model=*) exec ./build/gemma4-run "$@" ;; esac
done
defaults=(-m golden/trained_e2b --raw -n 120 --temp 0.7 --top-k 40 --seed 7)
has_prompt=0
for arg in "$@"; do
  case "$arg" in -p | --prompt | -f | --file | --prompt-ids | --tokenize*) has_prompt=1 ;; esac
done
[ "$has_prompt" = 1 ] || defaults+=(-p "And God said unto Moses,")
exec ./build/gemma4-run "${defaults[@]}" "$@"
