#!/usr/bin/env bash
# llama.cpp loads our GGUF files: converts every golden target case (golden/*/ except assistant*) to an
# F32 GGUF with gemma4-quantize, loads it with llama.cpp built from source (scripts/setup-reference.sh, or
# $LLAMA_CPP_DIR), through its C API (llama_golden.cpp), greedy-decodes each golden prompt and checks the
# tokens equal the golden's.
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
  case "$name" in assistant*) continue ;; esac
  [ -f "$dir/golden.safetensors" ] || continue
  "$build/gemma4-quantize" "$dir" "$tmp/$name.gguf" --type f32 -q >/dev/null
  timeout 600 "$llama_golden" "$tmp/$name.gguf" "$dir/golden.safetensors" --greedy | sed "s|$tmp/||" || status=1
  cases=$((cases + 1))
done
[ "$cases" -gt 0 ] || { echo "no golden cases found under $root/golden" >&2; exit 1; }
exit $status
