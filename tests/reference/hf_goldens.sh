#!/usr/bin/env bash
# The goldens are reproducible by anyone: rerun Hugging Face transformers (golden/make_golden.py --check) on
# one target and one drafter and require every committed value to be the float32 rounding of a value within
# 1e-12 of HF's float64 run, every integer identical. Needs the reference environment
# (scripts/setup-reference.sh); exits 77 (skipped) with one line when it is missing.
#
#   tests/reference/hf_goldens.sh [SOURCE_DIR] [CASE ...]     (default cases: e2b_like assistant)
set -euo pipefail
src="${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
shift || true
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(e2b_like assistant)

if [ -z "${GEMMA4_PYTHON:-}" ]; then
  env_sh="$("$src/scripts/setup-reference.sh" --print-dir)/env.sh"
  # shellcheck disable=SC1090
  [ -f "$env_sh" ] && . "$env_sh"
fi
if [ -z "${GEMMA4_PYTHON:-}" ] || ! "$GEMMA4_PYTHON" -c 'import transformers, torch, numpy' 2>/dev/null; then
  echo "SKIP: no Hugging Face reference environment (GEMMA4_PYTHON with transformers, torch); run scripts/setup-reference.sh"
  exit 77
fi
exec "$GEMMA4_PYTHON" "$src/golden/make_golden.py" --check --cases "${cases[@]}"
