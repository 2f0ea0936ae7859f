#!/usr/bin/env bash
# The suite's fuzz check: every libFuzzer target runs SECONDS (default 3) on its committed corpus
# (tests/fuzz/corpus/<target>; new inputs go to a temporary directory, the repository is not touched).
#   tests/fuzz/suite.sh [SECONDS]
# The fuzzers are built once into build-fuzz/ at the repository root (shared by the Meson and CMake runs).
# Exit 77 (skip) when clang++ with libFuzzer is not installed; 1 on any crash or sanitizer report.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
seconds="${1:-3}"
out="$root/build-fuzz"
mkdir -p "$out"
# one build at a time (Meson's and CMake's runs of this test may overlap)
exec 9>"$out/.lock"
flock 9
"$here/build.sh" "$out" || exit $?
flock -u 9
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failed=0
for t in gguf safetensors config tokenizer text; do
  mkdir -p "$tmp/$t"
  if (cd "$tmp" && "$out/fuzz_$t" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=20 \
        -artifact_prefix="$tmp/$t-" "$tmp/$t" "$here/corpus/$t") >"$tmp/$t.log" 2>&1; then
    echo "$t: $(grep -E '^#[0-9]+ +DONE|^Done [0-9]+ runs' "$tmp/$t.log" | tail -1)"
  else
    echo "$t: FAILED"
    grep -E "ERROR|SUMMARY|runtime error|Test unit written" -A3 "$tmp/$t.log" | head -30
    failed=1
  fi
done
exit "$failed"
