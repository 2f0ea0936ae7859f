#!/usr/bin/env bash
# gemma4-run -i in a real terminal (tmux), on the embedded tiny model with the tiny tokenizer:
#   1. the first turn comes from -f (a long prompt, 6000 tokens: seconds of prefill at one thread); Ctrl-C during it
#      stops the reply after one token: "[interrupted]" and the stats line, then the prompt "> " again;
#   2. typing a turn streams a reply, prints the stats line (prompt and generation tok/s), shows "> ";
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
# Ctrl-C must land during the first reply's prefill. On a busy machine the program may not have started
# generating yet when it lands (then Ctrl-C ends it, as it should at a prompt): start again, up to 3 times.
for wait in 0.3 1 2; do
  t kill-session -t "$session" 2>/dev/null || true
  rm -f "$work/status"
  t new-session -d -s "$session" -x 200 -y 60 \
    "'$run' -i -t 1 --tokenizer '$src/tests/tokenizer/tiny_tokenizer.json' -c 100000 -n 64 -f '$work/long.txt'; echo \$? > '$work/status'"
  t set-window-option -t "$session" remain-on-exit on >/dev/null
  sleep "$wait"
  t send-keys -t "$session" C-c
  for _ in $(seq 600); do
    [ "$(count '\[interrupted\]')" -ge 1 ] && break 2
    [ -s "$work/status" ] && break
    sleep 0.1
  done
  echo "Ctrl-C after ${wait} s came before generation started; trying again later in the run"
done
wait_for '\[interrupted\].*generated 1 tokens' 1
wait_for '^> ' 1
t send-keys -t "$session" "hello world" Enter
wait_for 'prompt [0-9]* tokens, [0-9.]* tok/s | generated [0-9]* tokens, [0-9.]* tok/s' 2
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
echo "PASS: Ctrl-C stops a reply and returns to the prompt; a typed turn streams and prints its stats; Ctrl-C at the prompt exits"
