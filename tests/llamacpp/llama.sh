# Sourced by the llama.cpp scripts in tests/llamacpp/: finds a llama.cpp build and builds llama_golden
# shellcheck shell=bash
# (llama_golden.cpp, our C++ program on llama.cpp's C API) against it.
#   find_llama ROOT   sets llama_dir (the build: $LLAMA_CPP_DIR, else the reference environment's
#                     <dir>/llama.cpp-build made by scripts/setup-reference.sh), llama_bin (its programs),
#                     llama_lib (libllama), llama_inc (llama.h and ggml.h's directories, -I flags) and
#                     llama_commit; returns 1 with a one-line reason in llama_missing when there is none.
#                     LLAMA_CPP_DIR may be a build tree (bin/, CMakeCache.txt naming the source) or an
#                     install prefix (bin/, lib/, include/).
#   build_llama_golden ROOT OUTDIR   compiles OUTDIR/llama_golden (again only when a source is newer)
#   build_llama_draft ROOT OUTDIR    compiles OUTDIR/llama_draft (llama_draft.cpp, on llama.cpp's common
#                     library: needs a build tree, whose source has common/); returns 1 when it cannot
find_llama() {
  local root=$1 src=""
  llama_src=""
  llama_dir=${LLAMA_CPP_DIR:-$("$root/scripts/setup-reference.sh" --print-dir)/llama.cpp-build}
  llama_missing=""
  if [ ! -d "$llama_dir" ]; then
    llama_missing="no llama.cpp build at $llama_dir (run scripts/setup-reference.sh llama.cpp, or set LLAMA_CPP_DIR to your build)"
    return 1
  fi
  llama_dir=$(cd "$llama_dir" && pwd)
  llama_bin=$llama_dir/bin
  llama_lib=""
  for d in "$llama_dir/bin" "$llama_dir/lib" "$llama_dir/lib64" "$llama_dir/src"; do
    [ -e "$d/libllama.so" ] && { llama_lib=$d; break; }
  done
  if [ -f "$llama_dir/include/llama.h" ]; then
    llama_inc="-I$llama_dir/include"
  elif [ -f "$llama_dir/CMakeCache.txt" ]; then
    src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$llama_dir/CMakeCache.txt")
    llama_inc="-I$src/include -I$src/ggml/include"
    llama_src=$src
  fi
  if [ -z "$llama_lib" ] || [ -z "${llama_inc:-}" ] || [ ! -x "$llama_bin/llama-bench" ]; then
    llama_missing="$llama_dir is not a usable llama.cpp build (needs bin/llama-bench, libllama.so and llama.h; run scripts/setup-reference.sh llama.cpp)"
    return 1
  fi
  llama_commit=unknown
  if [ -f "$llama_dir/COMMIT" ]; then llama_commit=$(cat "$llama_dir/COMMIT")
  elif [ -n "$src" ] && git -C "$src" rev-parse HEAD >/dev/null 2>&1; then llama_commit=$(git -C "$src" rev-parse HEAD)
  fi
  return 0
}

build_llama_golden() {
  local root=$1 out=$2
  llama_golden=$out/llama_golden
  mkdir -p "$out"
  if [ ! -x "$llama_golden" ] || [ "$root/tests/llamacpp/llama_golden.cpp" -nt "$llama_golden" ] ||
     [ "$root/tests/llamacpp/golden_ids.h" -nt "$llama_golden" ] ||
     [ "$llama_lib/libllama.so" -nt "$llama_golden" ]; then
    # shellcheck disable=SC2086  # llama_inc holds several -I flags
    ${CXX:-g++} -std=c++17 -O2 -Wall -Wextra -o "$llama_golden" "$root/tests/llamacpp/llama_golden.cpp" \
      -I"$root" $llama_inc -L"$llama_lib" -Wl,-rpath,"$llama_lib" -lllama -lggml -lggml-base
  fi
}

build_llama_draft() {
  local root=$1 out=$2
  llama_draft=$out/llama_draft
  [ -n "$llama_src" ] && [ -f "$llama_src/common/speculative.h" ] && [ -e "$llama_lib/libllama-common.so" ] || return 1
  mkdir -p "$out"
  if [ ! -x "$llama_draft" ] || [ "$root/tests/llamacpp/llama_draft.cpp" -nt "$llama_draft" ] ||
     [ "$root/tests/llamacpp/golden_ids.h" -nt "$llama_draft" ] ||
     [ "$llama_lib/libllama-common.so" -nt "$llama_draft" ]; then
    # shellcheck disable=SC2086  # llama_inc holds several -I flags
    ${CXX:-g++} -std=c++17 -O2 -Wall -Wextra -o "$llama_draft" "$root/tests/llamacpp/llama_draft.cpp" \
      -I"$root" $llama_inc -I"$llama_src/common" -L"$llama_lib" -Wl,-rpath,"$llama_lib" \
      -lllama-common -lllama -lggml -lggml-base
  fi
}

# A drafter case's target case (golden/<assistant>/golden.safetensors metadata "target_case", else its
# config.json's) and whether it uses the centroid head (config.json use_ordered_embeddings): "name True|False".
drafter_info() {
  python3 - "$1" <<'PY'
import json, struct, sys
d = sys.argv[1]
with open(f"{d}/golden.safetensors", "rb") as f:
    header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
meta = json.loads(header.get("__metadata__", {}).get("golden", "{}"))
config = json.load(open(f"{d}/config.json"))
print(meta.get("target_case") or config.get("target_case") or "", bool(config.get("use_ordered_embeddings", False)))
PY
}

# Whether a golden case is a drafter (model_type gemma4_assistant / gemma4_unified_assistant): yes or no
# ("none" for a directory that is no case, e.g. golden/train/).
is_drafter() {
  [ -f "$1/config.json" ] || { echo none; return; }
  python3 -c 'import json, sys; print("yes" if "assistant" in json.load(open(sys.argv[1])).get("model_type", "") else "no")' \
    "$1/config.json"
}

# Why llama.cpp cannot run a drafter case, or nothing: llama.cpp's gemma4-assistant loader takes the target's
# hidden size from embedding_length_out and refuses a drafter whose own hidden size equals it
# (src/models/gemma4-assistant.cpp, "requires embedding_length_out to carry the target hidden size").
llama_drafter_unsupported() {
  python3 - "$1/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
t = c.get("text_config", c)
if c.get("backbone_hidden_size") == t.get("hidden_size"):
    print("its hidden size equals the target's, which llama.cpp's gemma4-assistant loader refuses")
PY
}

# Why llama.cpp cannot run a golden target case, or nothing: a config whose last non-KV-shared layer is
# sliding makes llama.cpp abort (GGML_ASSERT in llama-kv-cache.cpp; README.md, sliding_last_layer.sh).
llama_unsupported() {
  python3 - "$1/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
t = c.get("text_config", c)
types, shared = t.get("layer_types") or [], t.get("num_kv_shared_layers") or 0
if shared and len(types) > shared and types[len(types) - shared - 1] == "sliding_attention":
    print("its last non-KV-shared layer is sliding, which makes llama.cpp abort (tests/llamacpp/README.md)")
PY
}
