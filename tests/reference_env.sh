# Sourced by the tests that need the reference environment of scripts/setup-reference.sh (bash):
#   . tests/reference_env.sh; require_reference_python SOURCE_DIR "transformers, torch" "what is missing"
# sets GEMMA4_PYTHON (from the environment, else the cache directory's env.sh) to a Python that imports the
# modules, or prints one line and exits 77 (skipped).
require_reference_python() {
  local src=$1 modules=$2 what=$3 env_sh
  if [ -z "${GEMMA4_PYTHON:-}" ]; then
    env_sh="$("$src/scripts/setup-reference.sh" --print-dir)/env.sh"
    # shellcheck disable=SC1090
    [ -f "$env_sh" ] && . "$env_sh"
  fi
  if [ -z "${GEMMA4_PYTHON:-}" ] || ! "$GEMMA4_PYTHON" -c "import $modules" 2>/dev/null; then
    echo "SKIP: no $what (GEMMA4_PYTHON with $modules); run scripts/setup-reference.sh"
    exit 77
  fi
}
