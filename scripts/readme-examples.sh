#!/usr/bin/env bash
# The README's "What you can do in a room" examples work exactly as
# written: every line of its ```text block is sent, as it is, to ada (a
# real `flashmesh` process on loopback); none may print an error, each
# applet command that writes must print "done", and bob (joined by --seed)
# ends with the same state hash and op count.
# Logs: target/demo-logs/readme-examples-<node>.{jsonl,err}. Env: see
# scripts/lib-demo.sh.
set -euo pipefail
# shellcheck source=scripts/lib-demo.sh
source "$(dirname "$0")/lib-demo.sh"
demo_init readme-examples

mapfile -t EXAMPLES < <(awk '
  /^### What you can do in a room/ { in_section = 1; next }
  in_section && /^```text/ { in_block = 1; next }
  in_block && /^```/ { exit }
  in_block { print }' README.md)
[ "${#EXAMPLES[@]}" -ge 6 ] || fail "found ${#EXAMPLES[@]} example lines in the README (expected the block under 'What you can do in a room')"

ROOM=readme-examples-$(random_digits 20)
NET=(--bind 127.0.0.1 --port 0 --no-discovery --room "$ROOM")
start_node_keyed a ada "${NET[@]}" --nick ada
wait_ready a ID_A
start_node_keyed b bob "${NET[@]}" --nick bob --seed "127.0.0.1:$(ev first a port ready)"
wait_ready b ID_B
step "bob linked to ada" linked_to a "$ID_B"

for line in "${EXAMPLES[@]}"; do
  errors=$(count a error)
  done_before=$(count a done)
  # Commands run one at a time: /state answers after the example did.
  send a "$line"
  ask a /state state
  [ "$(count a error)" = "$errors" ] || fail "README example '$line' failed: $(ev last a message error)"
  case "$line" in
    /roster* | /announcements* | /lostfound* | /requests* | "/vote list"* | "/vote show"* | "/queue list"*) ;;
    *) [ "$(count a done)" -gt "$done_before" ] || fail "README example '$line' wrote nothing" ;;
  esac
  echo "ok: $line"
done
step "ada and bob agree on the state" agree a b

close_input a
close_input b
wait_exit a
wait_exit b
pass "all ${#EXAMPLES[@]} README examples ran as written on a real node, and a second node agrees"
