#!/usr/bin/env bash
# Fuzzes every loader with libFuzzer (clang -fsanitize=fuzzer,address,undefined), N executions per target,
# one target after another on one core at low priority (nice -n 19, or $NICE).
#   tests/fuzz/run.sh N [WORKDIR] [TARGET...]      targets: gguf safetensors config tokenizer text (default: all)
# Seeds: tests/fuzz/corpus/<target> (committed, minimized), plus fresh ones: make_loader_seeds.py for all
# targets but gguf, make_seeds.py for gguf when BUILD_DIR (default build)/gemma4-quantize exists. Each target
# uses WORKDIR/<target>.dict when make_loader_seeds.py wrote one. New inputs go to WORKDIR/<target>/corpus;
# crashes to WORKDIR/<target>/crash-*. At the end each corpus is minimized back into tests/fuzz/corpus/<target>
# (-merge=1, inputs cut to 16 KiB). Prints "target: N runs, status S" per target; exit status != 0 on a finding.
# NICE=n sets the priority (default 19); MAX_TIME=S caps each target's time (for a campaign on a busy machine).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
runs="${1:?usage: run.sh N [WORKDIR] [TARGET...]}"
work="${2:-/tmp/gemma4-fuzz}"
shift $(( $# >= 2 ? 2 : 1 ))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gguf safetensors config tokenizer text)
nice_level="${NICE:-19}"
time_limit=()  # MAX_TIME=S: stop each target after S seconds even if it has not done N executions
[ -n "${MAX_TIME:-}" ] && time_limit=(-max_total_time="$MAX_TIME")
mkdir -p "$work"
"$here/build.sh" "$work" "${targets[@]}"
/usr/bin/python3 "$here/make_loader_seeds.py" "$root" "$work/seeds" >/dev/null
quantize="${BUILD_DIR:-$root/build}/gemma4-quantize"
if [[ " ${targets[*]} " == *" gguf "* ]] && [ -x "$quantize" ] && [ ! -d "$work/seeds/gguf" ]; then
  /usr/bin/python3 "$here/make_seeds.py" "$quantize" "$work/seeds/gguf" >/dev/null
fi
failed=0
for t in "${targets[@]}"; do
  mkdir -p "$work/$t/corpus" "$here/corpus/$t"
  seeds=("$here/corpus/$t")
  [ -d "$work/seeds/$t" ] && seeds+=("$work/seeds/$t")
  dict=()
  [ -f "$work/seeds/$t.dict" ] && dict=(-dict="$work/seeds/$t.dict")
  status=0
  (cd "$work/$t" && nice -n "$nice_level" "$work/fuzz_$t" -runs="$runs" -max_len=65536 -rss_limit_mb=2048 -timeout=60 \
     -print_final_stats=1 "${time_limit[@]}" "${dict[@]}" -artifact_prefix="$work/$t/" corpus "${seeds[@]}") >"$work/$t/fuzz.log" 2>&1 || status=$?
  done_line=$(grep -E "^#[0-9]+ +DONE|^Done [0-9]+ runs" "$work/$t/fuzz.log" | tail -1 || true)
  echo "$t: ${done_line:-no DONE line}; status $status"
  grep -E "ERROR|SUMMARY|runtime error" "$work/$t/fuzz.log" | head -5 || true
  [ "$status" -eq 0 ] || failed=1
  rm -rf "$work/$t/min" && mkdir -p "$work/$t/min"
  (cd "$work/$t" && "$work/fuzz_$t" -merge=1 -max_len=16384 -timeout=20 min corpus "${seeds[@]}" >/dev/null 2>&1) || true
  rm -f "$here/corpus/$t"/*
  cp "$work/$t"/min/* "$here/corpus/$t/" 2>/dev/null || true
  echo "  minimized corpus/$t: $(ls "$here/corpus/$t" | wc -l) files, $(du -sh "$here/corpus/$t" | cut -f1)"
done
exit "$failed"
