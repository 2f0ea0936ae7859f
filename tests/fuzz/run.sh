#!/usr/bin/env bash
# Fuzzes the GGUF reader with libFuzzer (clang -fsanitize=fuzzer,address,undefined) for N executions, on one
# core at the lowest priority (nice -n 19).
#   tests/fuzz/run.sh N [WORKDIR]
# Seeds: tests/fuzz/corpus (committed, minimized) plus, if BUILD_DIR/gemma4-quantize exists, fresh seeds
# from make_seeds.py. New inputs go to WORKDIR/corpus (default /tmp/gemma4-fuzz); crashes to WORKDIR/crash-*.
# At the end the corpus is minimized back into tests/fuzz/corpus (-merge=1). Exit status != 0 on a crash.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
runs="${1:?usage: run.sh N [WORKDIR]}"
work="${2:-/tmp/gemma4-fuzz}"
mkdir -p "$work/corpus" "$here/corpus"
clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root" "$here/fuzz_gguf.cpp" -o "$work/fuzz_gguf"
if [ -x "$root/build/gemma4-quantize" ] && [ -z "$(ls -A "$here/corpus")" ]; then
  /usr/bin/python3 "$here/make_seeds.py" "$root/build/gemma4-quantize" "$work/seeds" >/dev/null
fi
seeds=("$here/corpus")
[ -d "$work/seeds" ] && seeds+=("$work/seeds")
cd "$work"
nice -n 19 ./fuzz_gguf -runs="$runs" -max_len=200000 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$work/" corpus "${seeds[@]}" 2>&1 | tee "$work/fuzz.log" | grep -E "^#[0-9]+ +(DONE|pulse)|stat::|ERROR|SUMMARY" || true
status=${PIPESTATUS[0]}
mkdir -p "$work/min"
./fuzz_gguf -merge=1 -max_len=16384 "$work/min" corpus "${seeds[@]}" >/dev/null 2>&1
rm -f "$here"/corpus/*
cp "$work"/min/* "$here/corpus/" 2>/dev/null || true
echo "minimized corpus: $(ls "$here/corpus" | wc -l) files, $(du -sh "$here/corpus" | cut -f1)"
exit "$status"
