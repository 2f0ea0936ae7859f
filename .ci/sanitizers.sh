#!/usr/bin/env bash
# CI, second part: the project built with clang++ under sanitizers, run by .ci/run after ./test.sh (g++).
#   1. ASan+UBSan (build-asan/): every target of the project is built with clang++ (tools, all tests), and
#      these run: test_reliability test_loading test_gguf test_tokenizer test_chat test_sampler test_quant
#      test_model test_numerics test_ops test_cli (the tools, run by test_cli, carry the sanitizers too).
#      Not run here: test_reference and test_speculative (every golden case, 160 s and more under ASan on
#      2 cores; both run in ./test.sh) and the scripts' tests (notebooks, npm, tmux, install).
#   2. TSan (build-tsan/): the threaded tests — two Sessions in two threads (test_reliability [threads]),
#      the kernels at 1 and N threads (test_ops), and the model at several thread counts (test_model).
# Highway is compiled for its static target only (HWY_COMPILE_ONLY_STATIC) to keep the build short; ./test.sh
# covers the dynamically dispatched targets.
# A sanitizer report exits with its own status (ASan 86, UBSan 87, TSan 88), never the tools' 1, so an
# expected failure in test_cli cannot hide one; the logs are also searched for a report.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
start=$SECONDS
common="-O1 -g -fno-omit-frame-pointer -DHWY_COMPILE_ONLY_STATIC=1"
export ASAN_OPTIONS=exitcode=86:detect_leaks=1:strict_string_checks=1
export UBSAN_OPTIONS=halt_on_error=1:exitcode=87:print_stacktrace=1
export TSAN_OPTIONS=exitcode=88:halt_on_error=1
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

run() {  # run NAME COMMAND...: fails on a non-zero status or a sanitizer report in the output
  local name=$1
  shift
  local t0=$SECONDS status=0
  "$@" >"$logs/$name.log" 2>&1 || status=$?
  if [ "$status" -ne 0 ] || grep -qE "ERROR: (Address|Thread|Leak)Sanitizer|runtime error:|WARNING: ThreadSanitizer" "$logs/$name.log"; then
    tail -60 "$logs/$name.log"
    echo "sanitizers: $name FAILED (status $status)"
    exit 1
  fi
  echo "sanitizers: $name passed ($((SECONDS - t0)) s)"
}

configure() {  # configure DIR SANITIZER-FLAGS (the CPU library: the CUDA backend is ./test.sh's, where nvcc is found)
  cmake -S . -B "$1" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=None -DGEMMA4_CUDA=OFF \
    -DCMAKE_CXX_FLAGS="$common $2" -DCMAKE_EXE_LINKER_FLAGS="$2" >/dev/null
}

configure build-asan "-fsanitize=address,undefined -fno-sanitize-recover=undefined"
t0=$SECONDS
cmake --build build-asan -j "$jobs" >"$logs/build-asan.log" 2>&1 || { tail -40 "$logs/build-asan.log"; exit 1; }
echo "sanitizers: ASan+UBSan build of every target with clang++ ($((SECONDS - t0)) s)"
for t in test_reliability test_loading test_gguf test_tokenizer test_chat test_sampler test_quant test_model \
         test_numerics test_cli; do
  run "asan-$t" "build-asan/tests/$t"
done
# (this build carries Highway's static target only, so the check that a build carries AVX-512 and AVX2 is skipped)
run asan-test_ops build-asan/tests/test_ops "~the build carries*"

configure build-tsan "-fsanitize=thread"
t0=$SECONDS
cmake --build build-tsan -j "$jobs" --target test_reliability test_ops test_model >"$logs/build-tsan.log" 2>&1 ||
  { tail -40 "$logs/build-tsan.log"; exit 1; }
echo "sanitizers: TSan build ($((SECONDS - t0)) s)"
run tsan-two-sessions build-tsan/tests/test_reliability "[threads]"
run tsan-test_ops build-tsan/tests/test_ops "~the build carries*"
run tsan-test_model build-tsan/tests/test_model

echo "sanitizers: all passed in $((SECONDS - start)) s"
