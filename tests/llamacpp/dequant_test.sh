#!/usr/bin/env bash
# llama.cpp's own dequantization is ours: the embedded tiny model (golden/e2b_like), converted to an F32
# GGUF by gemma4-quantize, is quantized by llama.cpp's llama-quantize to each block type gemma4 reads (its
# Q4_K_M mix brings Q4_K/Q5_K/Q6_K where rows allow and its fallbacks elsewhere), and the quantized file is
# widened back to F32 by llama-quantize itself. gemma4 in `exact` numerics (a quantized model computes the
# f32 model of its dequantized weights, bit for bit) must then give the same results on both files: the same
# greedy tokens and the same perplexity/KL line to every printed digit. A wrong bit order in any block type
# (e.g. Q5_0's fifth bits) changes both.
# Needs llama-quantize from the reference environment (scripts/setup-reference.sh); exit 77 without it.
#   dequant_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
. "$src/tests/llamacpp/llama.sh"
find_llama "$src" || { echo "SKIPPED: $llama_missing" >&2; exit 77; }
quantize=$llama_bin/llama-quantize
[ -x "$quantize" ] || { echo "SKIPPED: no $quantize (make it with scripts/setup-reference.sh)" >&2; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/gemma4-quantize" "$src/golden/e2b_like" "$work/m.gguf" --type f32 -q > /dev/null
"$build/gemma4-run" --prompt-ids 2,71,68,408 -n 64 --temp 1 --seed 3 --print-ids -t 2 2>/dev/null > "$work/run.txt"
head -1 "$work/run.txt" > "$work/ids.txt"
"$build/gemma4-eval" ppl -m "$work/m.gguf" --ids-file "$work/ids.txt" -c 32 --save-base "$work/base.kld" -t 2 \
  > /dev/null 2>&1
results() {  # greedy ids and the ppl / KL lines of one file, exact numerics (to $2)
  "$build/gemma4-run" -m "$1" --prompt-ids 2,71,68,408 -n 24 --temp 0 --print-ids -t 2 --numerics exact \
    > "$work/run.out" 2> "$work/run.err" || { cat "$work/run.err"; echo "FAIL: gemma4-run on $1"; exit 1; }
  "$build/gemma4-eval" ppl -m "$1" --ids-file "$work/ids.txt" -c 32 --kl-base "$work/base.kld" -t 2 \
    --numerics exact > "$work/ppl.out" 2>&1 || { cat "$work/ppl.out"; echo "FAIL: gemma4-eval ppl on $1"; exit 1; }
  { head -1 "$work/run.out"; grep -E '^(ppl|base ppl) ' "$work/ppl.out"; } > "$2"
}
# (Q5_K_M is not among them: its fallback for rows that are no multiple of 256 is Q5_1, which gemma4 does
# not read; Q4_K_M's is Q5_0.)
for type in Q8_0 Q4_0 Q5_0 Q4_K_M; do
  "$quantize" "$work/m.gguf" "$work/q.gguf" "$type" 2 > "$work/q.log" 2>&1 || { cat "$work/q.log"; exit 1; }
  "$quantize" --allow-requantize "$work/q.gguf" "$work/f.gguf" F32 2 > "$work/f.log" 2>&1 || { cat "$work/f.log"; exit 1; }
  kinds=$(grep -o 'converting to [A-Za-z0-9_]*' "$work/q.log" | sort | uniq -c | awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $4}')
  results "$work/q.gguf" "$work/ours.txt"
  results "$work/f.gguf" "$work/theirs.txt"
  [ "$(wc -l < "$work/ours.txt")" -eq 3 ] || { cat "$work/ours.txt"; echo "FAIL: $type: no results"; exit 1; }
  if ! cmp -s "$work/ours.txt" "$work/theirs.txt"; then
    diff "$work/ours.txt" "$work/theirs.txt" || true
    echo "FAIL: $type ($kinds): gemma4 on the quantized file differs from llama.cpp's dequantization of it"
    exit 1
  fi
  echo "$type ($kinds): equal — $(sed -n 3p "$work/ours.txt")"
done
echo "PASS: every block type reads as llama.cpp dequantizes it"
