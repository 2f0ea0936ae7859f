#!/usr/bin/env bash
# llama.cpp loads our GGUF files: converts every golden target case (golden/*/ except assistant*) to an
# F32 GGUF with gemma4-quantize, loads it with llama.cpp's CPU backend (npm node-llama-cpp@3.22.1, its
# prebuilt binaries), greedy-decodes each golden prompt and checks the tokens equal the golden's.
# F32 KV cache and a full sliding-window cache: with llama.cpp's default F16 cache, MoE routing on the
# tiny models flips and the continuation diverges (see tests/llamacpp/README.md).
#
#   tests/llamacpp/run.sh BUILD_DIR            (BUILD_DIR holds gemma4-quantize)
# Exit 0: all match; 1: a mismatch or a failed conversion; 77: skipped (no node/npm, or npm install failed).
# The npm package goes to $GEMMA4_LLAMACPP_CACHE (default ~/.cache/gemma4-llamacpp), outside the repository.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${1:?usage: run.sh BUILD_DIR}"
quantize="$build/gemma4-quantize"
cache="${GEMMA4_LLAMACPP_CACHE:-$HOME/.cache/gemma4-llamacpp}"

skip() { echo "SKIPPED (llama.cpp check): $*" >&2; echo "*** the llama.cpp check did NOT run ***" >&2; exit 77; }
command -v node >/dev/null || skip "node is not installed"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || skip "node-llama-cpp 3.22.1 needs Node.js >= 20, this is $(node --version) (Debian 12 ships 18)"
command -v npm >/dev/null || skip "npm is not installed"
mkdir -p "$cache"
if [ ! -d "$cache/node_modules/node-llama-cpp" ]; then
  echo "installing node-llama-cpp@3.22.1 into $cache ..."
  (cd "$cache" && { [ -f package.json ] || npm init -y >/dev/null; } &&
     timeout 600 npm install --no-audit --no-fund node-llama-cpp@3.22.1 >"$cache/npm-install.log" 2>&1) ||
    skip "npm install node-llama-cpp@3.22.1 failed (see $cache/npm-install.log)"
fi
# ES modules resolve packages next to the script: run copies from the cache directory.
cp "$here"/*.mjs "$cache/"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
pairs=()
for dir in "$root"/golden/*/; do
  name="$(basename "$dir")"
  case "$name" in assistant*) continue ;; esac
  [ -f "$dir/golden.safetensors" ] || continue
  "$quantize" "$dir" "$tmp/$name.gguf" --type f32 -q >/dev/null
  pairs+=("$tmp/$name.gguf" "$dir/golden.safetensors")
done
[ "${#pairs[@]}" -gt 0 ] || { echo "no golden cases found under $root/golden" >&2; exit 1; }
timeout 600 node "$cache/greedy.mjs" "${pairs[@]}"
