#!/usr/bin/env bash
# Builds tests/consumer as an outside Meson project with gemma4 in subprojects/gemma4, and runs it.
set -euo pipefail
source_dir=$1 work=$2
rm -rf "$work"
mkdir -p "$work/subprojects"
cp "$source_dir/tests/consumer/meson.build" "$source_dir/tests/consumer/consumer.cpp" "$work/"
ln -s "$source_dir" "$work/subprojects/gemma4"
cd "$work"
meson setup build --buildtype=release >/dev/null
meson compile -C build >/dev/null
./build/consumer "$source_dir/golden/dense_31b_like"
