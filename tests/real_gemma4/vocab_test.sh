#!/usr/bin/env bash
# The real Gemma 4 vocabulary (llama.cpp's models/ggml-vocab-gemma-4.gguf, 262144 pieces) against llama.cpp's
# own tokenizer test vectors (.inp strings, .out ids):
#   1. as a user runs it: gemma4-run --tokenizer ggml-vocab-gemma-4.gguf --tokenize --tokenize-jsonl gives
#      the .out ids (after its <bos>) for every string;
#   2. the library (real_vocab): the same ids, and decode(ids) gives every string back byte for byte.
# Exit 77 (skipped) when no llama.cpp source tree or copy of the files is found (see locate.sh).
#   vocab_test.sh GEMMA4_RUN REAL_VOCAB
set -euo pipefail
run=$1 real_vocab_bin=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/locate.sh"
locate_real_gemma4 "$root" || {
  echo "SKIPPED: no llama.cpp source with models/ggml-vocab-gemma-4.gguf (set LLAMA_CPP_SRC, or run scripts/setup-reference.sh llama.cpp)" >&2
  exit 77; }
echo "vocabulary and vectors from the $real_source"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$real_vocab_bin" "$real_vocab" "$real_vocab_inp" "$real_vocab_out" --jsonl "$work/inp.jsonl"
"$run" --tokenizer "$real_vocab" --tokenize --tokenize-jsonl "$work/inp.jsonl" > "$work/run.ids"
# gemma4-run prints "2,<ids>" (with <bos>); .out has the ids alone, space-separated.
sed -e 's/^2,\{0,1\}//' -e 's/,/ /g' "$work/run.ids" > "$work/run.out"
tr -d '\r' < "$real_vocab_out" | sed -e 's/^ *//' -e 's/ *$//' > "$work/expected.out"
total=$(wc -l < "$work/expected.out")
same=$(paste -d'|' "$work/run.out" "$work/expected.out" | awk -F'|' '$1 == $2' | wc -l)
bos=$(grep -c '^2\(,\|$\)' "$work/run.ids" || true)
echo "gemma4-run --tokenize-jsonl: identical ids for $same of $total strings (each after <bos>: $bos of $total)"
[ "$same" -eq "$total" ] && [ "$bos" -eq "$total" ] && [ "$(wc -l < "$work/run.ids")" -eq "$total" ]
