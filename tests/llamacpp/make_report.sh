#!/usr/bin/env bash
# Regenerates golden/REPORT.md: llama.cpp built from source (scripts/setup-reference.sh, or $LLAMA_CPP_DIR),
# run through its C API (llama_golden.cpp) on our GGUF conversions of every golden target case, its logits
# at every prompt position judged by gemma4-eval compare
#   1. F32 GGUF vs the golden (tiers f32 and bf16),
#   2. Q8_0 GGUF vs the golden (tier q8), and vs our own engine on the same Q8_0 bytes (tier bf16),
# and its greedy continuations vs the golden's.
#   tests/llamacpp/make_report.sh BUILD_DIR      (BUILD_DIR holds gemma4-quantize and gemma4-eval)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$(cd "${1:?usage: make_report.sh BUILD_DIR}" && pwd)"
. "$here/llama.sh"
find_llama "$root" || { echo "make_report: $llama_missing" >&2; exit 1; }
build_llama_golden "$root" "$build/llamacpp"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
out="$root/golden/REPORT.md"
# The golden's prompts in its metadata's order, and each one's ids (safetensors: 8-byte length, JSON header).
golden_prompts() {
  python3 - "$1" <<'PY'
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    base = 8 + n
    meta = json.loads(header.get("__metadata__", {}).get("golden", "{}"))
    names = list(meta.get("prompts", {})) or sorted(k[:-10] for k in header if k.endswith(".input_ids"))
    for p in names:
        a, b = header[p + ".input_ids"]["data_offsets"]
        f.seek(base + a)
        ids = struct.unpack(f"<{(b - a) // 4}i", f.read(b - a))
        print(p, ",".join(map(str, ids)))
PY
}
row() { grep -E "\.logits " "$1" | awk '{printf "%s | %s | %s | %s | %s", $3, $4, $6, $8, $10}'; }
producer() {  # the golden's producer, from its metadata
  python3 - "$1" <<'PY'
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
meta = json.loads(header.get("__metadata__", {}).get("golden", "{}"))
print(meta.get("producer") or meta.get("generator") or meta.get("source") or "see golden/README.md")
PY
}
{
  echo "# Golden report: llama.cpp against the goldens"
  echo
  echo "Regenerate with \`tests/llamacpp/make_report.sh BUILD_DIR\` (this file is its output; $(date -u +%Y-%m-%d))."
  echo "llama.cpp: commit \`$llama_commit\`, built from source by \`scripts/setup-reference.sh\` (CPU backend, Release,"
  echo "GGML_NATIVE, shared libraries), called through its C API (\`tests/llamacpp/llama_golden.cpp\`): F32 KV cache, full"
  echo "sliding-window cache, flash attention off, the whole prompt in one batch, 2 threads."
  echo "Models: our \`gemma4-quantize\` conversions of each golden case. Logits at every prompt position, judged by"
  echo "\`gemma4-eval compare\`. The goldens' producer (their metadata): $(for d in "$root"/golden/*/; do [ "$(is_drafter "$d")" = no ] && [ -f "$d/golden.safetensors" ] && producer "$d/golden.safetensors"; done | sort -u | paste -sd ';' | sed 's/;/; /g')."
  echo
  echo "| case | GGUF | prompt | reference | tier | max_abs | nmse | top1 | mean KL | result |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
} > "$tmp/table.md"
greedy_rows=""
for dir in "$root"/golden/*/; do
  name="$(basename "$dir")"
  [ "$(is_drafter "$dir")" = no ] || continue
  golden="$dir/golden.safetensors"
  [ -f "$golden" ] || continue
  why=$(llama_unsupported "$dir")
  if [ -n "$why" ]; then
    echo "| $name | - | - | - | - | - | - | - | - | not run: $why |" >> "$tmp/table.md"
    continue
  fi
  golden_prompts "$golden" > "$tmp/prompts.txt"
  for type in f32 q8_0; do
    gguf="$tmp/$name.$type.gguf"
    "$build/gemma4-quantize" "$dir" "$gguf" --type "$type" -q >/dev/null
    mkdir -p "$tmp/$name.$type"
    if ! "$llama_golden" "$gguf" "$golden" --logits "$tmp/$name.$type" > "$tmp/llama.log" 2>&1; then
      echo "| $name | $type | - | - | - | - | - | - | - | llama.cpp failed: $(grep -m1 -E 'error|ASSERT|ABORT' "$tmp/llama.log" | cut -c1-120) |" >> "$tmp/table.md"
      continue
    fi
    if [ "$type" = f32 ]; then
      "$llama_golden" "$gguf" "$golden" --greedy | sed "s|$tmp/||" > "$tmp/greedy.txt" || true
      greedy_rows+=$(awk -v c="$name" '{r = $1 == "ok" ? "equal" : "**different**"; sub(":", "", $3); print "| " c " | " $3 " | " r " |"}' "$tmp/greedy.txt")$'\n'
    fi
    if [ "$type" = q8_0 ]; then  # our engine on the same bytes, as a golden file (prompts p0, p1, ...)
      ids=(); while read -r _ list; do ids+=(--prompt-ids "$list"); done < "$tmp/prompts.txt"
      "$build/gemma4-eval" dump -m "$gguf" "${ids[@]}" --greedy 0 -t 2 -o "$tmp/$name.ours.safetensors" >/dev/null
    fi
    i=0
    while read -r prompt _; do
      logits="$tmp/$name.$type/$prompt.f32"
      if [ "$type" = f32 ]; then tiers="f32 bf16"; else tiers="q8"; fi
      for tier in $tiers; do
        r="$tmp/r.txt"
        "$build/gemma4-eval" compare --golden "$golden" --logits "$logits" --prompt "$prompt" --tier "$tier" > "$r" || true
        echo "| $name | $type | $prompt | golden | $tier | $(row "$r") |" >> "$tmp/table.md"
      done
      if [ "$type" = q8_0 ]; then
        r="$tmp/r.txt"
        "$build/gemma4-eval" compare --golden "$tmp/$name.ours.safetensors" --logits "$logits" --prompt "p$i" --tier bf16 > "$r" || true
        echo "| $name | $type | $prompt | gemma4 on the same Q8_0 file | bf16 | $(row "$r") |" >> "$tmp/table.md"
      fi
      i=$((i + 1))
    done < "$tmp/prompts.txt"
  done
done
# The drafters: llama.cpp's first drafting round (common/speculative.cpp draft-mtp) vs the drafter goldens.
draft_rows=""
if build_llama_draft "$root" "$build/llamacpp"; then
  for dir in "$root"/golden/*/; do
    name="$(basename "$dir")"
    [ -f "$dir/golden.safetensors" ] && [ "$(is_drafter "$dir")" = yes ] || continue
    why=$(llama_drafter_unsupported "$dir")
    if [ -n "$why" ]; then draft_rows+="| $name | | | not run: $why | | | | |"$'\n'; continue; fi
    read -r target ordered < <(drafter_info "$dir")
    [ -f "$root/golden/$target/golden.safetensors" ] || continue
    "$build/gemma4-quantize" "$root/golden/$target" "$tmp/$target.draft-target.gguf" --type f32 -q >/dev/null
    "$build/gemma4-quantize" "$dir" "$tmp/$name.gguf" --type f32 -q >/dev/null
    "$llama_draft" "$tmp/$target.draft-target.gguf" "$tmp/$name.gguf" "$dir/golden.safetensors" \
      "$root/golden/$target/golden.safetensors" > "$tmp/draft.txt" 2>&1 || true
    draft_rows+=$(awk -v c="$name ($target)" -v o="$ordered" '
      / drafts / {
        p = $2; sub(":", "", p);
        match($0, /llama.cpp drafts [0-9,]+, accepted [0-9]+/); d = substr($0, RSTART + 17, RLENGTH - 17);
        match($0, /\| golden [0-9,]+, accepted [0-9]+/); g = substr($0, RSTART + 9, RLENGTH - 9);
        match($0, /swa_causal [0-9,]+, accepted [0-9]+/); s = substr($0, RSTART + 11, RLENGTH - 11);
        match($0, /target next [0-9]+ \(golden [0-9]+\)/); n = substr($0, RSTART + 12, RLENGTH - 12);
        eq = $0 ~ /= golden: yes/ ? "HF mask" : ($0 ~ /= swa_causal: yes/ ? "swa_causal" : "**neither**");
        print "| " c " | " o " | " p " | " n " | " d " | " g " | " s " | " eq " |" }
      /error/ { print "| " c " | " o " | - | - | " $0 " | | | **error** |" }' "$tmp/draft.txt")$'\n'
  done
fi
{
  cat "$tmp/table.md"
  echo
  echo "Greedy continuations (\`tests/llamacpp/run.sh\`, the \`llamacpp_greedy\` test): llama.cpp's argmax tokens after each"
  echo "golden prompt, from the F32 GGUF, against the golden's \`greedy_tokens\`."
  echo
  echo "| case | prompt | llama.cpp vs golden |"
  echo "|---|---|---|"
  printf '%s' "$greedy_rows"
  echo
  if [ -n "$draft_rows" ]; then
    echo "Drafters (\`tests/llamacpp/llama_draft.cpp\`: llama.cpp's own MTP drafting, \`common/speculative.cpp\` draft-mtp, the"
    echo "assistant context on the target's K/V through \`ctx_other\`): the first drafting round after each golden prompt"
    echo "(F32 GGUFs of the drafter and its target), against the drafter golden's \`draft_tokens\` (Hugging Face's"
    echo "sliding mask; our engine equals them: \`gemma4-eval golden --draft\`) and \`swa_causal.draft_tokens\` (the causal"
    echo "sliding mask llama.cpp uses). \"accepted\": how many of the draft the target's greedy continuation accepts."
    echo
    echo "| drafter (target) | use_ordered_embeddings | prompt | target next token (golden) | llama.cpp draft, accepted | golden draft, accepted | swa_causal draft, accepted | llama.cpp equals |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '%s' "$draft_rows"
    echo
  fi
  cat "$here/REPORT_NOTES.md"
} > "$out"
echo "wrote $out"
