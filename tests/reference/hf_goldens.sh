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

. "$src/tests/reference_env.sh"
require_reference_python "$src" "transformers, torch, numpy" "Hugging Face reference environment"
exec "$GEMMA4_PYTHON" "$src/golden/make_golden.py" --check --cases "${cases[@]}"
