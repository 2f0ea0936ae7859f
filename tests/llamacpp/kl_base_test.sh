#!/usr/bin/env bash
# The perplexity base file is llama.cpp's: gemma4-eval ppl --method llama --save-base writes it from the
# embedded tiny model (golden/e2b_like), and llama.cpp's own llama-perplexity --kl-divergence reads it and
# scores the same model, converted to an F32 GGUF by gemma4-quantize. It must read back the base's PPL that
# we read from the same file, and find its own run of the same chunks close to ours: PPL(Q) within 1%, mean
# KLD < 0.01, the same top token for >= 90% (llama.cpp keeps its KV cache in F16, and these tiny random
# models amplify such rounding: golden/REPORT.md).
# Needs llama-perplexity from the reference environment (scripts/setup-reference.sh); exit 77 without it.
#   kl_base_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
dir=${LLAMA_CPP_DIR:-$("$src/scripts/setup-reference.sh" --print-dir 2>/dev/null)/llama.cpp-build}
perplexity=$dir/bin/llama-perplexity
[ -x "$perplexity" ] || { echo "SKIPPED: no $perplexity (make it with scripts/setup-reference.sh)" >&2; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# a text the model itself wrote (sampled at temperature 1), so its tokens are not all far below the base
# file's -16 floor (llama.cpp floors them there, and PPL(base) would then be below PPL(Q))
# (to a file, then its first line: `| head -1` under pipefail failed at random when head closed the pipe first)
"$build/gemma4-run" --prompt-ids 2,71,68,408 -n 300 --temp 1 --seed 3 --print-ids -t 2 2>/dev/null > "$work/run.txt"
head -1 "$work/run.txt" > "$work/ids.txt"
"$build/gemma4-quantize" "$src/golden/e2b_like" "$work/m.gguf" --type f32 -q > /dev/null
"$build/gemma4-eval" ppl --ids-file "$work/ids.txt" -c 32 --save-base "$work/base.kld" -t 2 > "$work/ours.txt" 2>&1
ours=$(sed -n 's/^ppl \([0-9.]*\) .*/\1/p' "$work/ours.txt")
"$build/gemma4-eval" ppl --ids-file "$work/ids.txt" -c 32 --kl-base "$work/base.kld" -t 2 > "$work/self.txt" 2>&1
ours_base=$(sed -n 's/^base ppl \([0-9.]*\) .*/\1/p' "$work/self.txt")
# (stdout and stderr to separate files: llama.cpp prints its results to a buffered stdout and a few log lines
# to stderr, and in one file a stderr line could land inside a result line, which then did not match)
"$perplexity" -m "$work/m.gguf" --kl-divergence-base "$work/base.kld" --kl-divergence -c 32 -b 32 -t 2 \
  > "$work/llama.txt" 2> "$work/llama.err" ||
  { cat "$work/llama.err" "$work/llama.txt"; echo "FAIL: llama-perplexity did not read the base file"; exit 1; }
kld=$(sed -n 's/^Mean    KLD: *\([0-9.e-]*\).*/\1/p' "$work/llama.txt")
same=$(sed -n 's/^Same top p *: *\([0-9.]*\).*/\1/p' "$work/llama.txt")
ppl_q=$(sed -n 's/^Mean PPL(Q) *: *\([0-9.]*\).*/\1/p' "$work/llama.txt")
ppl_base=$(sed -n 's/^Mean PPL(base) *: *\([0-9.]*\).*/\1/p' "$work/llama.txt")
echo "ours: ppl $ours, base ppl read back $ours_base | llama-perplexity on our base file: PPL(Q) $ppl_q," \
     "PPL(base) $ppl_base, mean KLD $kld, same top $same%"
python3 - "$ours" "$ours_base" "$ppl_q" "$ppl_base" "$kld" "$same" <<'PY' || { tail -40 "$work/llama.txt"; exit 1; }
import sys
ours, ours_base, q, base, kld, same = map(float, sys.argv[1:])
assert abs(base / ours_base - 1) < 1e-4, f"llama.cpp reads PPL(base) {base} from our file, we read {ours_base}"
assert abs(q / ours - 1) < 1e-2, f"llama.cpp's PPL(Q) {q} on the same model and chunks is not near our ppl {ours}"
assert 0 <= kld < 1e-2, f"mean KLD {kld}"
assert same >= 90.0, f"same top token {same}%"
PY
echo "PASS: llama-perplexity reads gemma4-eval's base file and agrees with it"
