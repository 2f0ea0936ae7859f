#!/usr/bin/env bash
# The whole test suite: builds with Meson and with CMake and runs every test in both. The last lines are
# CTest's summary ("100% tests passed, 0 tests failed out of N").
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
jobs=$(nproc)
meson setup build-meson --buildtype=release >/dev/null 2>&1 || meson setup --reconfigure build-meson --buildtype=release >/dev/null
meson compile -C build-meson -j "$jobs"
meson test -C build-meson --print-errorlogs
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"
ctest --test-dir build -j "$jobs" --output-on-failure
