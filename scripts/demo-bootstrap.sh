#!/usr/bin/env bash
# A room bootstrapping with no configuration, with real `flashmesh`
# processes on loopback:
#   * n1..n4 share a room code and a discovery port and nothing else (no
#     seeds): they find each other by UDP beacons to 127.255.255.255;
#   * n5 has no discovery, only `--seed 127.0.0.1:<n1's port>`;
#   * every node sees the other four alive (polling /members);
#   * a chat from n3 reaches each of the four others exactly once (counted
#     after a second chat, from n1, reached everyone);
#   * n2 is killed with SIGKILL: every remaining node reports it dead;
#   * n5 quits (end of its input): every remaining node reports it left.
# Logs: target/demo-logs/demo-bootstrap-<node>.{jsonl,err}. Env: see
# scripts/lib-demo.sh (FLASHMESH_BIN, LOG_DIR, DEADLINE_S, DEMO_JSON_TOOL).
set -euo pipefail
# shellcheck source=scripts/lib-demo.sh
source "$(dirname "$0")/lib-demo.sh"
demo_init demo-bootstrap

ROOM=demo-bootstrap-$(random_digits 20) # unique per run, strong enough
DISCOVERY_PORT=$(free_udp_port)
BEACONS=(--discovery-port "$DISCOVERY_PORT" --broadcast 127.255.255.255)
echo "room $ROOM, discovery port $DISCOVERY_PORT"

declare -A ID=()
ALL=(n1 n2 n3 n4 n5)
for n in n1 n2 n3 n4; do
  start_node "$n" --bind 127.0.0.1 --port 0 --room "$ROOM" --nick "$n" "${BEACONS[@]}"
done
for n in n1 n2 n3 n4; do wait_ready "$n" "ID[$n]"; done
PORT_1=$(ev first n1 port ready)
start_node n5 --bind 127.0.0.1 --port 0 --room "$ROOM" --nick n5 --no-discovery \
  --seed "127.0.0.1:$PORT_1"
wait_ready n5 "ID[n5]"

# others NODE: every node of ALL but NODE.
others() {
  local n
  for n in "${ALL[@]}"; do [ "$n" = "$1" ] || echo "$n"; done
}

# all_see STATUS OF: every node of ALL but OF has STATUS as its last member
# event about OF.
all_see() {
  local n
  for n in $(others "$2"); do status_is "$n" "${ID[$2]}" "$1" || return 1; done
}

# --- everyone sees everyone ------------------------------------------------------
# Polled with /members: member events a node printed while it was still
# starting can be missing (see the report on events lost before subscribe).
# sees_all NODE STATUS: NODE's latest /members lists every other node of ALL
# with STATUS (asks again each time).
sees_all() {
  local n=$1 m list
  send "$n" /members
  list=$(ev last "$n" 'members[]' members) || return 1
  for m in $(others "$n"); do
    grep -F "\"node\":\"${ID[$m]}\"" <<<"$list" | grep -qF "\"status\":\"$2\"" || return 1
  done
}
for n in "${ALL[@]}"; do
  wait_for "$n's /members lists the other four alive" sees_all "$n" here
  echo "ok: $n's /members lists the other four alive ($(elapsed) s since start)"
done

# --- a chat from n3 reaches everyone once ----------------------------------------
TEXT="hello from n3 $(random_digits 6)"
send n3 "$TEXT"
for n in $(others n3); do
  step "$n gets n3's chat" has "$n" chat "from=${ID[n3]}" "text=$TEXT"
done
# A second chat, from n1, as a barrier: once it reached everyone, a
# duplicate of the first one would have had time to arrive as well.
BARRIER="barrier from n1 $(random_digits 6)"
send n1 "$BARRIER"
for n in $(others n1); do
  wait_for "$n gets n1's chat" has "$n" chat "from=${ID[n1]}" "text=$BARRIER"
done
for n in $(others n3); do
  got=$(count "$n" chat "text=$TEXT")
  [ "$got" = 1 ] || fail "$n got n3's chat $got times, expected exactly 1"
done
[ "$(count n3 chat "text=$TEXT")" = 0 ] || fail "n3 got its own chat back"
echo "ok: n3's chat reached each of the 4 others exactly once"

# --- n2 crashes ------------------------------------------------------------------
KILLED_MS=$(now_ms)
kill_node n2 KILL
ALL=(n1 n3 n4 n5)
AFTER=()
for n in $(others n2); do
  # Any dead event counts (a later one, left or alive, is checked below).
  wait_for "$n reports n2 dead" has "$n" member "node=${ID[n2]}" status=unreachable
  AFTER+=("$n $(secs $(($(now_ms) - KILLED_MS))) s")
done
echo "ok: n2 (SIGKILL) reported dead by every other node (after: $(IFS=,; echo "${AFTER[*]}" | sed 's/,/, /g'))"
for n in "${ALL[@]}"; do
  step "$n's /members lists n2 dead" listed "$n" "${ID[n2]}" unreachable
done

# --- n5 leaves -------------------------------------------------------------------
close_input n5
wait_exit n5 "n5 exits after the end of its input"
has n5 shutdown || fail "n5 exited without a shutdown event"
ALL=(n1 n3 n4)
for n in "${ALL[@]}"; do
  step "$n reports n5 left" status_is "$n" "${ID[n5]}" left
  step "$n's /members lists n5 left" listed "$n" "${ID[n5]}" left
done
# Nobody calls the crashed node alive again, or the one that left.
for n in "${ALL[@]}"; do
  s=$(member_status "$n" "${ID[n2]}")
  [ "$s" = unreachable ] || fail "$n's last word on n2 is $s, not unreachable"
done
for n in n1 n2 n3 n4 n5; do
  if has "$n" error; then fail "$n logged an error: $(ev first "$n" message error)"; fi
done

for n in "${ALL[@]}"; do close_input "$n"; done
for n in "${ALL[@]}"; do wait_exit "$n"; done
pass "5 nodes met (4 by beacons, 1 by seed), one chat delivered once to each, SIGKILL seen dead, leave seen left"
