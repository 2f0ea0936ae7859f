#!/usr/bin/env bash
# gemma4-run -i in a real terminal (tmux), on the embedded tiny model with the tiny tokenizer:
#   0. before the first prompt, one line names the model and the context and says how to stop;
#   1. the first turn comes from -f (a long prompt, 6000 tokens at -b 64: seconds of prefill at one thread, ~94
#      chunks); Ctrl-C during it stops the prompt between two chunks: "[interrupted]" and a stats line that says
#      where the prompt stopped and that nothing was generated, then the prompt "> " again;
#   2. typing a turn (now the first turn of the conversation: the interrupted one was dropped) streams a reply,
#      prints the stats line (prompt and generation tok/s), shows "> ";
#   3. Ctrl-C at the prompt ends the program with status 130.
# Exit 77 (skipped) without tmux.
#   chat_test.sh GEMMA4_RUN SOURCE_DIR
set -euo pipefail
run=$1 src=$2
command -v tmux >/dev/null || { echo "SKIPPED: tmux is not installed (apt-get install tmux)" >&2; exit 77; }
session=gemma4-chat-test
socket=gemma4-test-$$
work=$(mktemp -d)
t() { tmux -L "$socket" "$@"; }
trap 't kill-server 2>/dev/null || true; rm -rf "$work"' EXIT
screen() { t capture-pane -p -J -t "$session" -S -300; }
fail() { echo "FAIL: $*"; echo "--- screen ---"; screen; exit 1; }
count() { screen | grep -c -- "$1" || true; }
wait_for() {  # PATTERN [COUNT]: until the screen shows PATTERN at least COUNT times (60 s at most)
  for _ in $(seq 600); do
    [ "$(count "$1")" -ge "${2:-1}" ] && return 0
    sleep 0.1
  done
  fail "no \"$1\" (x${2:-1}) on the screen"
}
python3 -c "print('hello world ' * 3000)" > "$work/long.txt"
# Ctrl-C must land during the first turn's prompt. On a busy machine the program may not have started it yet
# when it lands (then Ctrl-C ends it, as it should at a prompt), or may be past it: start again, up to 3 times.
for wait in 0.3 1 2; do
  t kill-session -t "$session" 2>/dev/null || true
  rm -f "$work/status"
  t new-session -d -s "$session" -x 200 -y 60 \
    "'$run' -i -t 1 -b 64 --tokenizer '$src/tests/tokenizer/tiny_tokenizer.json' -c 100000 -n 64 -f '$work/long.txt'; echo \$? > '$work/status'"
  t set-window-option -t "$session" remain-on-exit on >/dev/null
  sleep "$wait"
  t send-keys -t "$session" C-c
  for _ in $(seq 600); do
    [ "$(count 'prompt stopped after')" -ge 1 ] && break 2
    [ "$(count '\[interrupted\]')" -ge 1 ] && break  # it landed after the prompt, during the reply
    [ -s "$work/status" ] && break
    sleep 0.1
  done
  echo "Ctrl-C after ${wait} s did not land during the prompt; trying again"
done
wait_for '^chat with <embedded golden/e2b_like> | context 100000 tokens | Ctrl-C stops a reply; Ctrl-D, or Ctrl-C at the prompt, ends$' 1
wait_for '\[interrupted\].*prompt stopped after [0-9]* of [0-9]* tokens (dropped).*generated 0 tokens' 1
wait_for '^> ' 1
t send-keys -t "$session" "hello world" Enter
wait_for 'prompt [0-9]* tokens, [0-9.]* tok/s | generated [0-9]* tokens\?, [0-9.]* tok/s' 1
wait_for '^> ' 2
[ ! -s "$work/status" ] || fail "gemma4-run ended early"
t send-keys -t "$session" C-c
# The exit status comes from the shell that ran gemma4-run (tmux's pane_dead_status is not always ready).
for _ in $(seq 100); do
  [ -s "$work/status" ] && break
  sleep 0.1
done
status=$(cat "$work/status" 2>/dev/null || echo none)
[ "$status" = 130 ] || fail "after Ctrl-C at the prompt: exit status $status, expected 130"
echo "--- screen ---"
screen | grep -v '^$' | cut -c1-160
echo "PASS: the banner names model, context and how to stop; Ctrl-C stops a prompt between chunks and returns to the prompt; a typed turn streams and prints its stats; Ctrl-C at the prompt exits"
