#!/usr/bin/env bash
# The trained models (golden/train/) against Hugging Face itself, in the reference environment
# (scripts/setup-reference.sh; exit 77 = skipped without it):
#   1. our tokenizer gives HF tokenizers' ids on the whole validation text (golden/train/valid.txt);
#   2. gemma4-eval ppl on trained_e2b and trained_moe equals HF's perplexity with the same windows
#      (golden/train/eval_ppl.py; the first 8 windows of ctx 512) within 1e-4 relative.
#   tests/trained/hf_match.sh GEMMA4_RUN GEMMA4_EVAL SOURCE_DIR
set -euo pipefail
run=$1 eval=$2 src=$3
. "$src/tests/reference_env.sh"
require_reference_python "$src" "transformers, tokenizers, torch" "Hugging Face reference environment"
py=$GEMMA4_PYTHON
export OMP_NUM_THREADS=1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
valid=$src/golden/train/valid.txt

"$run" --tokenizer "$src/golden/train/tokenizer.json" --tokenize -f "$valid" > "$tmp/ours.txt"
"$py" - "$src/golden/train/tokenizer.json" "$valid" "$tmp/ours.txt" <<'PY'
import re, sys
from tokenizers import Tokenizer
hf = Tokenizer.from_file(sys.argv[1]).encode(open(sys.argv[2], encoding="utf-8").read()).ids
ours = [int(x) for x in re.findall(r"-?\d+", open(sys.argv[3]).read())]
first = next((i for i, (a, b) in enumerate(zip(hf, ours)) if a != b), min(len(hf), len(ours)))
if hf != ours:
    sys.exit("tokenizer: ids differ from HF's at index %d of %d/%d" % (first, len(hf), len(ours)))
print("tokenizer: %d ids, all equal to HF's" % len(hf))
PY

for case in trained_e2b trained_moe; do
  model=$src/golden/$case
  hf=$("$py" "$src/golden/train/eval_ppl.py" "$model" "$valid" --chunks 8 2>/dev/null | grep -o 'ppl [0-9.]*$' | cut -d' ' -f2)
  ours=$("$eval" ppl -m "$model" -f "$valid" --chunks 8 -t 1 2>/dev/null | grep -o '^ppl [0-9.]*' | cut -d' ' -f2)
  python3 - "$case" "$hf" "$ours" <<'PY'
import sys
case, hf, ours = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
rel = abs(hf - ours) / hf
print("%s: ppl HF %.6f, ours %.6f, relative difference %.2e" % (case, hf, ours, rel))
sys.exit(0 if rel <= 1e-4 else 1)
PY
done
