#!/usr/bin/env bash
# Times llama.cpp (built from source: scripts/setup-reference.sh, or $LLAMA_CPP_DIR) on a GGUF file with its
# own llama-bench: prompt processing of P tokens and generation of N tokens, R repetitions, T threads, CPU.
# Run gemma4-bench --model on the same file for our side.
#   tests/llamacpp/bench.sh MODEL.gguf [-p P] [-n N] [-r R] [-t T] [more llama-bench options]
# Defaults: P = N = 16, R = 2, T = 2 (what tests/llamacpp/README.md's table used).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
model="${1:?usage: bench.sh MODEL.gguf [-p P] [-n N] [-r R] [-t T] [llama-bench options]}"
shift
. "$here/llama.sh"
find_llama "$root" || { echo "bench.sh: $llama_missing" >&2; exit 1; }
p=16 n=16 r=2 t=2 extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    -p) p=$2; shift 2 ;; -n) n=$2; shift 2 ;; -r) r=$2; shift 2 ;; -t) t=$2; shift 2 ;;
    *) extra+=("$1"); shift ;;
  esac
done
echo "llama.cpp $llama_commit ($llama_bin/llama-bench)"
"$llama_bin/llama-bench" -m "$model" -p "$p" -n "$n" -r "$r" -t "$t" -ngl 0 ${extra[@]+"${extra[@]}"}
