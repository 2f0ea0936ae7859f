#!/usr/bin/env bash
# Regenerates golden/REPORT.md: llama.cpp (npm node-llama-cpp@3.22.1, CPU) run on our GGUF conversions of
# every golden target case, its logits at every prompt position judged by gemma4-eval compare
#   1. F32 GGUF vs the float64 golden (tiers f32 and bf16),
#   2. Q8_0 GGUF vs the golden (tier q8), and vs our own engine on the same Q8_0 bytes (tier bf16).
#   tests/llamacpp/make_report.sh BUILD_DIR      (BUILD_DIR holds gemma4-quantize and gemma4-eval)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$(cd "${1:?usage: make_report.sh BUILD_DIR}" && pwd)"
cache="${GEMMA4_LLAMACPP_CACHE:-$HOME/.cache/gemma4-llamacpp}"
command -v node >/dev/null || { echo "node is needed" >&2; exit 1; }
if [ ! -d "$cache/node_modules/node-llama-cpp" ]; then
  mkdir -p "$cache" && (cd "$cache" && { [ -f package.json ] || npm init -y >/dev/null; } &&
    npm install --no-audit --no-fund node-llama-cpp@3.22.1 >"$cache/npm-install.log" 2>&1)
fi
cp "$here"/*.mjs "$cache/"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
out="$root/golden/REPORT.md"
summary() { tail -n 1 "$1" | cut -c1-160; }
row() { grep -E "\.logits " "$1" | awk '{printf "%s | %s | %s | %s | %s", $3, $4, $6, $8, $10}'; }
{
  echo "# Golden report: llama.cpp against the goldens"
  echo
  echo "Regenerate with \`tests/llamacpp/make_report.sh BUILD_DIR\` (this file is its output; $(date -u +%Y-%m-%d))."
  echo "llama.cpp: npm \`node-llama-cpp@3.22.1\` (prebuilt CPU backend; source commit per shared/GGUF_GEMMA4.md),"
  echo "F32 KV cache, flash attention off, 2 threads. Models: our \`gemma4-quantize\` conversions of each golden case."
  echo "Logits at every prompt position (\`tests/llamacpp/logits.mjs\`), judged by \`gemma4-eval compare\`."
  echo
  echo "**\`golden/make_golden.py\` has not been run** (it needs transformers >= 5.5 and PyTorch, not available"
  echo "here): the goldens' agreement with Hugging Face's own code rests on golden/README.md's provenance note."
  echo
  echo "| case | GGUF | prompt | reference | tier | max_abs | nmse | top1 | mean KL | result |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
} > "$tmp/table.md"
details=""
for dir in "$root"/golden/*/; do
  name="$(basename "$dir")"
  case "$name" in assistant*) continue ;; esac
  golden="$dir/golden.safetensors"
  for type in f32 q8_0; do
    gguf="$tmp/$name.$type.gguf"
    "$build/gemma4-quantize" "$dir" "$gguf" --type "$type" -q >/dev/null
    node "$cache/logits.mjs" "$gguf" "$golden" "$tmp/$name.$type" >/dev/null
    if [ "$type" = q8_0 ]; then  # our engine on the same bytes, as a golden file
      ids=(); for p in short long; do ids+=(--prompt-ids "$(node -e "
        import('$cache/safetensors.mjs').then(m => console.log(m.readSafetensors('$golden').get('$p.input_ids').join(',')))")"); done
      "$build/gemma4-eval" dump -m "$gguf" "${ids[@]}" --greedy 0 -t 2 -o "$tmp/$name.ours.safetensors" >/dev/null
    fi
    for prompt in short long; do
      logits="$tmp/$name.$type/$prompt.f32"
      if [ "$type" = f32 ]; then tiers="f32 bf16"; else tiers="q8"; fi
      for tier in $tiers; do
        r="$tmp/r.txt"
        "$build/gemma4-eval" compare --golden "$golden" --logits "$logits" --prompt "$prompt" --tier "$tier" > "$r" || true
        echo "| $name | $type | $prompt | golden (float64) | $tier | $(row "$r") |" >> "$tmp/table.md"
      done
      if [ "$type" = q8_0 ]; then
        p=$([ "$prompt" = short ] && echo p0 || echo p1)
        r="$tmp/r.txt"
        "$build/gemma4-eval" compare --golden "$tmp/$name.ours.safetensors" --logits "$logits" --prompt "$p" --tier bf16 > "$r" || true
        echo "| $name | $type | $prompt | gemma4 on the same Q8_0 file | bf16 | $(row "$r") |" >> "$tmp/table.md"
      fi
    done
  done
done
{
  cat "$tmp/table.md"
  cat "$here/REPORT_NOTES.md"
} > "$out"
echo "wrote $out"
