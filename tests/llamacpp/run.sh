#!/usr/bin/env bash
# llama.cpp loads our GGUF files: converts every golden target case (golden/*/ whose model_type is not a drafter's) to an
# F32 GGUF with gemma4-quantize, loads it with llama.cpp built from source (scripts/setup-reference.sh, or
# $LLAMA_CPP_DIR), through its C API (llama_golden.cpp), greedy-decodes each golden prompt and checks the
# tokens equal the golden's; then, for each drafter golden (model_type gemma4_assistant, gemma4_unified_assistant) whose logits llama.cpp
# computes as Hugging Face does, llama.cpp's first drafting round (llama_draft.cpp) equals the golden's.
# F32 KV cache and a full sliding-window cache: with llama.cpp's default F16 cache, MoE routing on the
# tiny models flips and the continuation diverges (see tests/llamacpp/README.md).
#
#   tests/llamacpp/run.sh BUILD_DIR            (BUILD_DIR holds gemma4-quantize; llama_golden is built there)
# Exit 0: all match; 1: a mismatch or a failed conversion; 77: skipped (no llama.cpp build found).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)"
. "$here/llama.sh"
find_llama "$root" || { echo "SKIPPED (llama.cpp check): $llama_missing" >&2; exit 77; }
build_llama_golden "$root" "$build/llamacpp"
echo "llama.cpp $llama_commit from $llama_dir"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
status=0 cases=0
for dir in "$root"/golden/*/; do
  name="$(basename "$dir")"
  [ "$(is_drafter "$dir")" = no ] || continue  # drafters below; golden/train/ is no case
  [ -f "$dir/golden.safetensors" ] || continue
  why=$(llama_unsupported "$dir")
  if [ -n "$why" ]; then echo "not checked: $name ($why)"; continue; fi
  "$build/gemma4-quantize" "$dir" "$tmp/$name.gguf" --type f32 -q >/dev/null
  timeout 600 "$llama_golden" "$tmp/$name.gguf" "$dir/golden.safetensors" --greedy | sed "s|$tmp/||" || status=1
  cases=$((cases + 1))
done
[ "$cases" -gt 0 ] || { echo "no golden cases found under $root/golden" >&2; exit 1; }
# The drafters whose logits llama.cpp computes as Hugging Face does (dense, not use_ordered_embeddings):
# llama.cpp's first drafting round must equal the golden's draft (or its swa_causal one, llama.cpp's mask).
if build_llama_draft "$root" "$build/llamacpp"; then
  for dir in "$root"/golden/*/; do
    [ -f "$dir/golden.safetensors" ] && [ "$(is_drafter "$dir")" = yes ] || continue
    name="$(basename "$dir")"
    why=$(llama_drafter_unsupported "$dir")
    if [ -n "$why" ]; then echo "not checked: $name ($why)"; continue; fi
    read -r target ordered < <(drafter_info "$dir")
    if [ "$ordered" = True ]; then
      echo "not checked: $name (use_ordered_embeddings: llama.cpp computes dense logits, see golden/REPORT.md)"
      continue
    fi
    [ -n "$target" ] && [ -f "$root/golden/$target/golden.safetensors" ] ||
      { echo "$name: its target case (metadata target_case) is not found under golden/" >&2; status=1; continue; }
    "$build/gemma4-quantize" "$root/golden/$target" "$tmp/$target.gguf" --type f32 -q >/dev/null
    "$build/gemma4-quantize" "$dir" "$tmp/$name.gguf" --type f32 -q >/dev/null
    echo "drafter $name on $target:"
    timeout 600 "$llama_draft" "$tmp/$target.gguf" "$tmp/$name.gguf" "$dir/golden.safetensors" \
      "$root/golden/$target/golden.safetensors" || status=1
  done
else
  echo "not checked: the drafters (llama.cpp's common library or source not found in $llama_dir)"
fi
exit $status
