#!/usr/bin/env bash
# Builds the libFuzzer targets: tests/fuzz/build.sh OUTDIR [TARGET...] writes OUTDIR/fuzz_<target>
# (clang++ -fsanitize=fuzzer,address,undefined; Highway's static target only, so fuzz_config builds in
# minutes). Rebuilds a target only when a source it includes is newer. Exit 77 when clang++ cannot link
# libFuzzer (Debian: apt-get install clang).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:?usage: build.sh OUTDIR [TARGET...]}"
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gguf safetensors config tokenizer text)
cxx="${FUZZ_CXX:-clang++}"
mkdir -p "$out"
probe="$out/.probe"
if ! command -v "$cxx" >/dev/null ||
   ! echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' |
     "$cxx" -x c++ - -fsanitize=fuzzer -o "$probe" 2>/dev/null; then
  echo "skipped: $cxx with libFuzzer is not available (apt-get install clang)"
  exit 77
fi
# up to nproc compiles at once; any failure fails the script
pids=()
for t in "${targets[@]}"; do
  src="$here/fuzz_$t.cpp"
  bin="$out/fuzz_$t"
  if [ -x "$bin" ] && [ -z "$(find "$src" "$root/gemma4" "$root/ops" "$root/tools" -newer "$bin" -name '*.[hc]*' -print -quit)" ]; then
    continue
  fi
  while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do sleep 1; done
  "$cxx" -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -DHWY_COMPILE_ONLY_STATIC=1 -I"$root" "$src" -o "$bin.tmp" -lhwy -lpcre2-8 -pthread && mv "$bin.tmp" "$bin" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
