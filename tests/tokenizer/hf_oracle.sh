#!/usr/bin/env bash
# Hugging Face `tokenizers` is the oracle: for every tokenizer.json the project has (every *tokenizer.json
# under golden/ and tests/tokenizer/, found anew each run), our Tokenizer must give HF's ids and HF's decoded
# text for every string of tests/tokenizer/corpus.jsonl, through gemma4-run --tokenize --tokenize-jsonl (ids,
# as a user runs it) and the library (tokenizer_oracle: ids with and without special tokens, decode with and
# without skip_special). invalid_utf8.txt is not used: HF's Python API takes only valid Unicode strings.
# Needs the reference environment (scripts/setup-reference.sh); exit 77 (skipped) with one line without it.
#   hf_oracle.sh SOURCE_DIR GEMMA4_RUN TOKENIZER_ORACLE
set -euo pipefail
src=$1 run=$2 oracle=$3
. "$src/tests/reference_env.sh"
require_reference_python "$src" tokenizers "Hugging Face tokenizers"
corpus=$src/tests/tokenizer/corpus.jsonl
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mapfile -t files < <(find "$src/golden" "$src/tests/tokenizer" -name '*tokenizer.json' | sort)
[ ${#files[@]} -gt 0 ] || { echo "no tokenizer.json under golden/ or tests/tokenizer/"; exit 1; }
failed=0
for f in "${files[@]}"; do
  "$GEMMA4_PYTHON" "$src/tests/tokenizer/hf_oracle.py" "$f" "$corpus" "$work/ref.jsonl"
  "$GEMMA4_PYTHON" -c 'import json, sys
for line in open(sys.argv[1]): print(",".join(map(str, json.loads(line)["ids"])))' "$work/ref.jsonl" > "$work/ref.ids"
  "$run" --tokenizer "$f" --tokenize --tokenize-jsonl "$corpus" > "$work/run.ids"
  total=$(wc -l < "$work/ref.ids")
  same=$(paste -d'|' "$work/run.ids" "$work/ref.ids" | awk -F'|' '$1 == $2' | wc -l)
  echo "gemma4-run --tokenize-jsonl: identical ids for $same of $total strings"
  [ "$same" -eq "$total" ] && [ "$(wc -l < "$work/run.ids")" -eq "$total" ] || failed=1
  "$oracle" "$f" "$corpus" "$work/ref.jsonl" || failed=1
done
echo "${#files[@]} tokenizer.json file(s) checked against Hugging Face tokenizers: $([ $failed = 0 ] && echo all agree || echo FAILED)"
exit $failed
