#!/usr/bin/env bash
# scripts/bench-vs-llamacpp.sh — gemma4-bench against llama.cpp's llama-bench on the same GGUF files, same
# threads, runs alternating (llama.cpp, gemma4, llama.cpp, gemma4, ...), one line per round with each ratio.
#
#   scripts/bench-vs-llamacpp.sh [options] MODEL.gguf...
#     -t N          threads for both (default 2)
#     -p LIST       prompt lengths for prefill, comma-separated (default 128,512)
#     -n N          tokens decoded (default 32)
#     -r N          repetitions inside each tool per round (default 2; each tool reports its best/average)
#     --rounds K    alternating rounds per model (default 2)
#     --numerics M  gemma4's numerics: fast (default) or exact
#
# Environment: LLAMA_CPP_DIR (a llama.cpp build with bin/llama-bench; default: the reference environment's,
# scripts/setup-reference.sh), GEMMA4_BENCH (default build/gemma4-bench). Needs python3 (standard library
# only) to read the JSON both tools print.
#
# What is compared: llama-bench's pp<P> (prompt processing, empty context) and tg<N> (generation from an
# empty context), mean of its -r runs; gemma4-bench's prefill of P tokens and decode of N tokens after a
# P-token prompt, best of its -r runs (its --json line). Ratios are gemma4 ÷ llama.cpp (> 1: gemma4 faster).
# Peak RSS: gemma4-bench's own (measured before its bandwidth probes); llama.cpp's from /usr/bin/time when
# present. The machine's load average (uptime) is printed with every round: timings on a busy machine
# are noisy, compare only rows taken together.
set -euo pipefail

threads=2 prompts=128,512 gen=32 reps=2 rounds=2 numerics=fast
models=()
while [ $# -gt 0 ]; do
  case "$1" in
    -t) threads=$2; shift 2 ;;
    -p) prompts=$2; shift 2 ;;
    -n) gen=$2; shift 2 ;;
    -r) reps=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --numerics) numerics=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "bench-vs-llamacpp: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) models+=("$1"); shift ;;
  esac
done
[ ${#models[@]} -gt 0 ] || { echo "bench-vs-llamacpp: give at least one MODEL.gguf (see --help)" >&2; exit 2; }

here=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${LLAMA_CPP_DIR:-}" ]; then
  ref=$("$here/scripts/setup-reference.sh" --print-dir 2>/dev/null || echo /root/.cache/gemma4-ref)
  [ -f "$ref/env.sh" ] && . "$ref/env.sh"
  LLAMA_CPP_DIR=${LLAMA_CPP_DIR:-$ref/llama.cpp-build}
fi
llama_bench=$LLAMA_CPP_DIR/bin/llama-bench
gemma4_bench=${GEMMA4_BENCH:-$here/build/gemma4-bench}
[ -x "$llama_bench" ] || { echo "bench-vs-llamacpp: no $llama_bench (build llama.cpp: scripts/setup-reference.sh, or set LLAMA_CPP_DIR)" >&2; exit 2; }
[ -x "$gemma4_bench" ] || { echo "bench-vs-llamacpp: no $gemma4_bench (build it: cmake --build build --target gemma4-bench, or set GEMMA4_BENCH)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "bench-vs-llamacpp: needs python3" >&2; exit 2; }
for m in "${models[@]}"; do [ -f "$m" ] || { echo "bench-vs-llamacpp: no such file $m" >&2; exit 2; }; done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }
timecmd=()
[ -x /usr/bin/time ] && timecmd=(/usr/bin/time -f '%M' -o "$tmp/llama_rss")

echo "# threads $threads, prompts $prompts, decode $gen, numerics $numerics; $(nproc) cores; $(date -u '+%F %T UTC')"
echo "# llama.cpp: $llama_bench"
echo "# gemma4:    $gemma4_bench"
printf '%-28s %5s %-6s %-14s %10s %10s %7s %10s %10s %7s\n' model round what load llama.cpp gemma4 ratio \
  llama_rss gemma_rss rss_ratio
for m in "${models[@]}"; do
  name=$(basename "$m")
  for round in $(seq 1 "$rounds"); do
    # llama.cpp: all prompt lengths and the decode test in one call (mmap, as gemma4).
    l_load=$(load)
    "${timecmd[@]}" "$llama_bench" -m "$m" -t "$threads" -p "$prompts" -n "$gen" -r "$reps" -o jsonl \
      > "$tmp/llama.jsonl" 2> "$tmp/llama.err" || { cat "$tmp/llama.err" >&2; exit 1; }
    llama_rss=$( [ -f "$tmp/llama_rss" ] && echo $(( $(tail -1 "$tmp/llama_rss") / 1024 )) || echo NA )
    # gemma4: one run per prompt length (each also decodes; the decode figure is the first run's).
    : > "$tmp/gemma.jsonl"
    g_load=$(load)
    for p in ${prompts//,/ }; do
      "$gemma4_bench" -m "$m" -t "$threads" -p "$p" -n "$gen" -r "$reps" --numerics "$numerics" --json \
        >> "$tmp/gemma.jsonl" 2> "$tmp/gemma.err" || { cat "$tmp/gemma.err" >&2; exit 1; }
    done
    python3 - "$tmp/llama.jsonl" "$tmp/gemma.jsonl" "$name" "$round" "$l_load | $g_load" "$llama_rss" <<'EOF'
import json, sys
llama = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
gemma = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
name, rnd, load, llama_rss = sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
rows = []
for g in gemma:
    pp = [r for r in llama if r["n_prompt"] == g["n_prompt"] and r["n_gen"] == 0]
    rows.append((f"pp{g['n_prompt']}", pp[0]["avg_ts"] if pp else float("nan"), g["prefill_tps"]))
tg = [r for r in llama if r["n_prompt"] == 0 and r["n_gen"] > 0]
rows.append((f"tg{gemma[0]['n_gen']}", tg[0]["avg_ts"] if tg else float("nan"), gemma[0]["decode_tps"]))
g_rss = max(g["peak_rss_mb"] for g in gemma)
rss_ratio = f"{g_rss / float(llama_rss):.2f}" if llama_rss != "NA" else "NA"
for what, l, g in rows:
    print(f"{name:<28} {rnd:>5} {what:<6} {load.split('|')[0].strip():<14} {l:10.2f} {g:10.2f} {g / l:7.2f} "
          f"{llama_rss:>10} {g_rss:10.0f} {rss_ratio:>7}")
g0 = gemma[0]
print(f"{'':<28} {'':>5} gemma4 numerics {g0['numerics']}, {g0['weight_bytes_per_token'] / 1e9:.3f} GB/token, "
      f"{g0['bandwidth_gbps']:.1f} GB/s = {100 * g0['bandwidth_fraction']:.0f}% of its matvec ceiling "
      f"({g0['matvec_gbps']:.1f} GB/s); load during gemma4: {load.split('|')[1].strip()}")
EOF
  done
done
