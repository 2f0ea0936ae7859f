#!/usr/bin/env bash
# Installs the Debian 12 packages gemma4 builds and tests with. Nothing is downloaded at build or run time
# beyond these packages. Run as root, or with sudo available; does nothing when all are present.
set -euo pipefail
packages=(
  g++ cmake meson ninja-build pkg-config python3   # toolchain (python3 writes the embedded default model)
  libhwy-dev                                       # Highway 1.0.3: portable SIMD with run-time dispatch
  nlohmann-json3-dev                               # JSON: config.json, safetensors headers, tokenizer.json
  libpcre2-dev                                     # PCRE2: the regexes a tokenizer.json's pre-tokenizer declares
  catch2                                           # Catch2 2.13: the tests
  clang libclang-rt-14-dev                         # the second compiler; sanitizers and libFuzzer (.ci/sanitizers.sh, tests/fuzz)
  tmux                                             # the terminal test of gemma4-run -i (tests/terminal/)
  python3-numpy python3-matplotlib jupyter-nbconvert python3-ipykernel   # notebooks/
  python3-jinja2                                   # the oracle rendering the real chat templates (tests/real_gemma4/)
)
# Node.js + npm run the test that compares with a JavaScript reference (the npm real-vocabulary tokenizer;
# llama.cpp is built from source by scripts/setup-reference.sh instead); a machine with its own Node (e.g.
# nodesource's, whose nodejs conflicts with Debian's npm) keeps it.
command -v npm >/dev/null || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}"
$sudo apt-get update
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
