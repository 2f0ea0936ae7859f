#!/usr/bin/env bash
# ChatFormat (gemma4/text/chat.h) against the real Gemma 4 chat templates from llama.cpp's source
# (models/templates/google-gemma-4-31B-it.jinja and -interleaved), rendered by Python jinja2 as transformers'
# apply_chat_template renders them, over tests/real_gemma4/conversations.json (system turn, thinking on/off,
# several turns, earlier replies with a thought channel, whitespace to trim, ...): every rendering identical,
# and conversations with tool messages refused in one line.
# Exit 77 (skipped) without the templates (see locate.sh) or without a Python that has jinja2
# (apt-get install python3-jinja2).
#   template_test.sh CHAT_RENDER
set -euo pipefail
chat_render=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/locate.sh"
locate_real_gemma4 "$root" || {
  echo "SKIPPED: no llama.cpp source with models/templates/google-gemma-4-31B-it.jinja (set LLAMA_CPP_SRC, or run scripts/setup-reference.sh llama.cpp)" >&2
  exit 77; }
python=""
for p in python3 /usr/bin/python3 "${GEMMA4_PYTHON:-}"; do
  [ -n "$p" ] && command -v "$p" >/dev/null && "$p" -c 'import jinja2' 2>/dev/null && { python=$p; break; }
done
[ -n "$python" ] || { echo "SKIPPED: no Python with jinja2 (apt-get install python3-jinja2)" >&2; exit 77; }
echo "templates from the $real_source; oracle: jinja2 $("$python" -c 'import jinja2; print(jinja2.__version__)')"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for template in "$real_template" "$real_template_interleaved"; do
  "$chat_render" "$template" "$here/conversations.json" > "$work/ours.jsonl"
  "$python" "$here/render_jinja.py" "$template" "$here/conversations.json" "$work/ours.jsonl" || status=1
done
exit $status
