#!/usr/bin/env bash
# Snapshots of the op-log, with a real `flashmesh` process on loopback and
# no discovery beacons:
#   * ada writes 1,200 chat lines (fed in one go; the script waits for
#     1,200 "sent" events): her /state says ops 1200 and snapshot_ops 1000
#     (the automatic snapshot every 1,000 ops);
#   * `/snapshot` saves one now: {"event":"snapshot","ops":1200};
#   * 7 more lines; /state gives ops 1207 and a state_hash;
#   * she quits gracefully (end of her input, exit 0) and restarts with the
#     same key file: /state says ops 1207, snapshot_ops 1200,
#     replayed_at_start 7, the same state_hash and frontier_hash as before;
#     /history 10 lists the last 10 lines in order.
# Logs: target/demo-logs/demo-snapshot-<node>.{jsonl,err} (a1: the first
# run, a2: the restart). Env: see scripts/lib-demo.sh (FLASHMESH_BIN,
# LOG_DIR, DEADLINE_S, DEMO_JSON_TOOL).
set -euo pipefail
# shellcheck source=scripts/lib-demo.sh
source "$(dirname "$0")/lib-demo.sh"
demo_init demo-snapshot

# The op-log lives in rooms/<room tag>-<id>/: the restart needs the same
# room code and key file.
ROOM=demo-snapshot-$(random_digits 20)
NET=(--bind 127.0.0.1 --port 0 --no-discovery --room "$ROOM")
BULK=1200
MORE=7
TOTAL=$((BULK + MORE))

# expect_state NODE FIELD=VALUE...: NODE's last /state answer has these
# values (read with one jq or python3 run).
expect_state() {
  local node=$1 kv keys=() want="" got
  shift
  for kv in "$@"; do
    keys+=("${kv%%=*}")
    want+=${want:+$'\t'}${kv#*=}
  done
  got=$(ev last "$node" . state | fields "${keys[@]}")
  [ "$got" = "$want" ] ||
    fail "$node's /state has ${keys[*]} = [$got], expected [$want]: $(ev last "$node" . state)"
}

# sent_at_least NODE N: NODE printed N "sent" events (or more).
sent_at_least() { more_than "$1" sent $(($2 - 1)); }

start_node_keyed a1 ada "${NET[@]}" --nick ada
wait_ready a1 ID_A

# --- 1,200 lines, one automatic snapshot ----------------------------------------
mapfile -t LINES < <(seq -f "bulk line %g from ada" 1 "$BULK")
T0=$(now_ms)
send_lines a1 "${LINES[@]}"
step "ada's $BULK \"sent\" events" sent_at_least a1 "$BULK"
[ "$(count a1 sent)" = "$BULK" ] || fail "ada printed $(count a1 sent) \"sent\" events, not $BULK"
[ "$(ev all a1 id sent | sort -u | wc -l)" = "$BULK" ] || fail "ada's $BULK \"sent\" ids are not distinct"
echo "ok: $BULK lines written in $(secs $(($(now_ms) - T0))) s"
ask a1 /state state
expect_state a1 ops="$BULK" snapshot_ops=1000 durable=true
echo "ok: ada's /state: ops $BULK, snapshot_ops 1000 (the automatic one)"

# --- /snapshot, 7 more lines ---------------------------------------------------
ask a1 /snapshot snapshot
[ "$(ev last a1 ops snapshot)" = "$BULK" ] ||
  fail "ada's /snapshot covers $(ev last a1 ops snapshot) ops, not $BULK: $(ev last a1 . snapshot)"
echo "ok: ada's /snapshot: ops $BULK"
for i in $(seq 1 "$MORE"); do LINES+=("line $i after the snapshot"); done
send_lines a1 "${LINES[@]:BULK}"
step "ada's $MORE more \"sent\" events" sent_at_least a1 "$TOTAL"
ask a1 '{"cmd":"state"}' state
expect_state a1 ops="$TOTAL" snapshot_ops="$BULK"
IFS=$'\t' read -r HASH FRONTIER < <(ev last a1 . state | fields state_hash frontier_hash)
echo "ok: ada's /state: ops $TOTAL, snapshot_ops $BULK, state_hash ${HASH:0:16}"
if has a1 error; then fail "ada logged an error: $(ev first a1 message error)"; fi

# --- graceful quit, restart ----------------------------------------------------
close_input a1
wait_exit a1 "ada exits after the end of her input"
has a1 shutdown || fail "ada exited without a shutdown event"

start_node_keyed a2 ada "${NET[@]}" --nick ada
wait_ready a2 ID
[ "$ID" = "$ID_A" ] || fail "ada restarted with id $ID, not $ID_A"
ask a2 /state state
expect_state a2 ops="$TOTAL" snapshot_ops="$BULK" replayed_at_start="$MORE" \
  state_hash="$HASH" frontier_hash="$FRONTIER" durable=true
echo "ok: restarted: /state ops $TOTAL, snapshot_ops $BULK, replayed_at_start $MORE, same state_hash and frontier_hash"

ask a2 '{"cmd":"history","n":10}' history
got=$(ev last a2 'ops[]' history | fields id text)
want=$(paste <(ev all a1 id sent | tail -n 10) <(printf '%s\n' "${LINES[@]:TOTAL-10}"))
[ "$got" = "$want" ] ||
  fail "ada's /history 10 after the restart (id, text):"$'\n'"$got"$'\n'"expected her last 10 \"sent\" and lines:"$'\n'"$want"
echo "ok: restarted: /history 10 lists the last 10 lines (texts and ids) in order"

if has a2 error; then fail "ada logged an error: $(ev first a2 message error)"; fi
close_input a2
wait_exit a2
pass "$TOTAL ops; automatic snapshot at 1000, /snapshot at $BULK; the restart loaded it, replayed $MORE and has the same state_hash"
