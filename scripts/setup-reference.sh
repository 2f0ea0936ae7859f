#!/usr/bin/env bash
# The optional reference environment (the README's third command): the Python packages that define Gemma 4
# (Hugging Face transformers + PyTorch + tokenizers) and llama.cpp built from its own source, installed into a
# cache directory outside the repository. Nothing in the default build or test needs it; the tests that do
# exit 77 (skipped) with one line saying what is missing when it is absent.
#
#   scripts/setup-reference.sh            # ~3 GB download (PyTorch), ~15 min on 2 cores (llama.cpp build)
#   source "$(scripts/setup-reference.sh --print-dir)/env.sh"   # GEMMA4_PYTHON, LLAMA_CPP_DIR, ...
#
# Where: $GEMMA4_REFERENCE_DIR, else ${XDG_CACHE_HOME:-~/.cache}/gemma4-ref. A user's own llama.cpp build is
# used instead of ours when LLAMA_CPP_DIR names it (a build tree or an install prefix with bin/ and lib/).
#
# Pinned versions (change them here only):
#   transformers 5.23.0, tokenizers 0.23.3, torch 2.15.0, numpy 2.4.6, safetensors 0.8.0, jinja2 3.1.6
#   llama.cpp: the copy vendored in llama-cpp-python 0.3.36 (its source distribution), llama.cpp commit
#   0c1e57098bba43ac29e6e3b677cdceebdd22334f, built as its users build it: CPU backend, Release, native ISA.
# Never installs into the system Python: a venv under the cache directory.
set -euo pipefail

ref_dir="${GEMMA4_REFERENCE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gemma4-ref}"
if [ "${1:-}" = "--print-dir" ]; then echo "$ref_dir"; exit 0; fi
only="${1:-all}"   # all | python | llama.cpp

python_packages=(torch==2.15.0 transformers==5.23.0 tokenizers==0.23.3 numpy==2.4.6 safetensors==0.8.0
                 jinja2==3.1.6)
llama_cpp_python=0.3.36
llama_cpp_commit=0c1e57098bba43ac29e6e3b677cdceebdd22334f

mkdir -p "$ref_dir"
cd "$ref_dir"

if [ "$only" = all ] || [ "$only" = python ]; then
  command -v python3 >/dev/null || { echo "setup-reference: python3 is missing (apt-get install python3 python3-venv)"; exit 1; }
  [ -x venv/bin/python ] || python3 -m venv venv || {
    echo "setup-reference: cannot make a venv (apt-get install python3-venv)"; exit 1; }
  echo "setup-reference: pip install ${python_packages[*]} into $ref_dir/venv"
  venv/bin/pip install --disable-pip-version-check -q "${python_packages[@]}"
  venv/bin/python - <<'EOF'
import torch, transformers, tokenizers, numpy
from transformers import Gemma4ForCausalLM, Gemma4ForConditionalGeneration, Gemma4AssistantForCausalLM  # noqa
print(f"setup-reference: transformers {transformers.__version__}, torch {torch.__version__}, "
      f"tokenizers {tokenizers.__version__}, numpy {numpy.__version__}")
EOF
fi

if [ "$only" = all ] || [ "$only" = llama.cpp ]; then
  src="$ref_dir/llama_cpp_python-$llama_cpp_python/vendor/llama.cpp"
  if [ ! -f "$src/CMakeLists.txt" ]; then
    [ -x venv/bin/pip ] || python3 -m venv venv
    venv/bin/pip download --disable-pip-version-check -q --no-deps --no-binary :all: -d dl \
      "llama-cpp-python==$llama_cpp_python"
    tar xzf "dl/llama_cpp_python-$llama_cpp_python.tar.gz"
  fi
  # The sdist carries the submodule's git directory: check that the commit is the one pinned above.
  head_file="$ref_dir/llama_cpp_python-$llama_cpp_python/.git/modules/vendor/llama.cpp/HEAD"
  if [ -f "$head_file" ] && [ "$(cat "$head_file")" != "$llama_cpp_commit" ]; then
    echo "setup-reference: llama.cpp in the sdist is $(cat "$head_file"), expected $llama_cpp_commit"; exit 1
  fi
  build="$ref_dir/llama.cpp-build"
  if [ ! -x "$build/bin/llama-bench" ]; then
    echo "setup-reference: building llama.cpp $llama_cpp_commit (CPU, Release, native) in $build"
    cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DBUILD_SHARED_LIBS=ON \
      -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
      -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_COMMIT="${llama_cpp_commit:0:9}" >/dev/null
    cmake --build "$build" -j "$(nproc)" --target llama llama-bench llama-perplexity llama-quantize \
      llama-tokenize
  fi
  echo "$llama_cpp_commit" > "$build/COMMIT"
  ln -sfn "$src" "$ref_dir/llama.cpp"
fi

cat > "$ref_dir/env.sh" <<EOF
# source this file: what the optional reference tests look for
export GEMMA4_REFERENCE_DIR="$ref_dir"
export GEMMA4_PYTHON="$ref_dir/venv/bin/python"
export LLAMA_CPP_DIR="\${LLAMA_CPP_DIR:-$ref_dir/llama.cpp-build}"
export LLAMA_CPP_SRC="\${LLAMA_CPP_SRC:-$ref_dir/llama.cpp}"
EOF
echo "setup-reference: done ($ref_dir/env.sh)"
