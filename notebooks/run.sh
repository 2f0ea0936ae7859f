#!/usr/bin/env bash
# Executes every notebook (they drive the built tools) into BUILD/notebooks/, and fails if one fails.
# Usage: notebooks/run.sh [BUILD_DIR]   (default: build, relative to the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."
# the notebooks' kernel is the Python that runs jupyter (Debian's /usr/bin/python3), not whatever python3 is first in PATH
python=$(command -v jupyter >/dev/null && sed -n '1s/^#! *//p' "$(command -v jupyter)")
if [ -z "$python" ] || ! $python -c "import matplotlib, numpy, ipykernel, nbconvert" 2>/dev/null; then
  echo "SKIPPED: jupyter-nbconvert, python3-matplotlib, python3-numpy or python3-ipykernel is not installed"
  exit 77
fi
build=$(realpath "${1:-build}")
mkdir -p "$build/notebooks"
export GEMMA4_BUILD="$build" PYDEVD_DISABLE_FILE_VALIDATION=1
cd notebooks
for nb in *.ipynb; do
  if ! jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=900 --output-dir "$build/notebooks" \
       "$nb" >"$build/notebooks/$nb.log" 2>&1; then
    tail -40 "$build/notebooks/$nb.log"
    echo "notebook failed: $nb (log: $build/notebooks/$nb.log)"
    exit 1
  fi
  echo "executed $nb -> $build/notebooks/$nb"
done
