#!/usr/bin/env bash
# The op-log survives SIGKILL, with real `flashmesh` processes on loopback
# and no discovery beacons:
#   * ada (a key file of her own, her op-log in rooms/ beside it) writes 5
#     chat lines, waiting for each "sent", and is killed with SIGKILL right
#     after the last one;
#   * she restarts with the same key file (same id): /state says ops 5,
#     durable, all 5 replayed from the store, and /history lists the 5
#     lines (texts and op ids as "sent" gave them) in order;
#   * 5 more rounds: one line, "sent", SIGKILL, restart, and every line
#     written so far is still there, in order;
#   * bob joins (--seed ada) with an empty log and gets the whole history by
#     anti-entropy: his /state has ada's state_hash and op count, and his
#     /history the same lines in the same order; he prints each of them
#     once as a chat event from ada.
# Logs: target/demo-logs/demo-persistence-<node>.{jsonl,err}, where ada's
# runs are a1, a2, ... Env: see scripts/lib-demo.sh (FLASHMESH_BIN,
# LOG_DIR, DEADLINE_S, DEMO_JSON_TOOL).
set -euo pipefail
# shellcheck source=scripts/lib-demo.sh
source "$(dirname "$0")/lib-demo.sh"
demo_init demo-persistence

# The op-log lives in rooms/<room tag>-<id>/: every run of ada needs the
# same room code (and key file) to find it again.
ROOM=demo-persistence-$(random_digits 20)
NET=(--bind 127.0.0.1 --port 0 --no-discovery --room "$ROOM")
FIRST_LINES=5
ROUNDS=5

TEXTS=()    # every line ada wrote, in order
SENT_IDS=() # the op id of each, from her "sent" events
RUN=0
A=
ID_A=

# start_ada: ada's next run, with her key file; checks her id stays hers.
start_ada() {
  local id
  RUN=$((RUN + 1))
  A=a$RUN
  start_node_keyed "$A" ada "${NET[@]}" --nick ada
  wait_ready "$A" id
  if [ -z "$ID_A" ]; then
    ID_A=$id
  elif [ "$id" != "$ID_A" ]; then
    fail "ada's run $RUN has id $id, not ${ID_A} (the key file did not keep her identity)"
  fi
}

# write_line TEXT: ada writes TEXT and waits for its "sent" (polling fast:
# the kill that follows must come right after it).
write_line() {
  local before
  before=$(count "$A" sent)
  send "$A" "$1"
  POLL_S=0.01 wait_for "$A's \"sent\" for '$1'" more_than "$A" sent "$before"
  TEXTS+=("$1")
  SENT_IDS+=("$(ev last "$A" id sent)")
}

# crash_ada: SIGKILL right after the last "sent".
crash_ada() {
  kill_node "$A" KILL
  echo "ok: $A killed (SIGKILL) right after its \"sent\" #${#TEXTS[@]}"
}

# ask_state_history NODE: sends /state and /history 100 at once and waits
# for the history (answered after the state: one command at a time).
ask_state_history() {
  local before
  before=$(count "$1" history)
  send_lines "$1" /state "/history 100"
  wait_for "$1's answers to /state and /history" more_than "$1" history "$before"
}

# expect_lines NODE: NODE's last /history lists exactly ada's lines (texts,
# ids, author, applet), in order.
expect_lines() {
  local node=$1 want got i
  want=$(for i in "${!TEXTS[@]}"; do
    printf '%s\t%s\tchat\t%s\n' "${SENT_IDS[i]}" "$ID_A" "${TEXTS[i]}"
  done)
  got=$(ev last "$node" 'ops[]' history | fields id author applet text)
  [ "$got" = "$want" ] ||
    fail "$node's /history (id, author, applet, text) differs from the ${#TEXTS[@]} lines ada wrote:" \
      $'\n'"got:"$'\n'"$got"$'\n'"want:"$'\n'"$want"
}

# check_restart: ada's fresh run holds every line written so far.
check_restart() {
  local n=${#TEXTS[@]} got
  ask_state_history "$A"
  got=$(ev last "$A" . state | fields ops durable replayed_at_start snapshot_ops equivocators)
  # ops, durable, all replayed from the store (no snapshot yet), no fork.
  [ "$got" = "$n"$'\t'"true"$'\t'"$n"$'\t'"null"$'\t'"0" ] ||
    fail "after restart $((RUN - 1)), ada's /state is not ops $n, durable, replayed_at_start $n," \
      "snapshot_ops null, equivocators 0: $(ev last "$A" . state)"
  expect_lines "$A"
  echo "ok: $A (restart $((RUN - 1))): /state ops $n, replayed $n; /history lists the $n lines in order"
}

# --- 5 lines, SIGKILL, restart -------------------------------------------------
start_ada
echo "ok: ada ${ID_A:0:8}, room $ROOM, data in $DEMO_TMP/rooms"
for i in $(seq 1 "$FIRST_LINES"); do write_line "line $i from ada"; done
echo "ok: ada's $FIRST_LINES lines sent"
crash_ada
compgen -G "$DEMO_TMP/rooms/*-${ID_A:0:8}*" >/dev/null ||
  fail "no op-log of ada's in $DEMO_TMP/rooms/ (beside her key file): $(ls -R "$DEMO_TMP")"
start_ada
check_restart

# --- rounds: one line, SIGKILL, restart ----------------------------------------
for r in $(seq 1 "$ROUNDS"); do
  write_line "line $((FIRST_LINES + r)) from ada (round $r)"
  crash_ada
  start_ada
  check_restart
done

# --- bob joins and gets everything by anti-entropy -------------------------------
# (ada's last /state answer, from check_restart: nothing changed since)
IFS=$'\t' read -r HASH_A OPS_A < <(ev last "$A" . state | fields state_hash ops)
PORT_A=$(ev first "$A" port ready)
start_node_keyed b bob "${NET[@]}" --nick bob --seed "127.0.0.1:$PORT_A"
wait_ready b ID_B
# same_hash NODE HASH: NODE's /state (asked again each time) has HASH.
same_hash() {
  send "$1" /state
  [ "$(ev last "$1" state_hash state)" = "$2" ]
}
step "bob's /state reaches ada's state_hash ${HASH_A:0:16}" same_hash b "$HASH_A"
[ "$(ev last b ops state)" = "$OPS_A" ] ||
  fail "bob has ada's state_hash but ops $(ev last b ops state), not $OPS_A"
ask b "/history 100" history
expect_lines b
echo "ok: bob's /state: ops $OPS_A, same state_hash; his /history lists ada's $OPS_A lines in order"
# Each op bob got is shown once, as ada's chat.
step "bob printed a chat event for each of ada's $OPS_A lines" more_than b chat $((OPS_A - 1))
got=$(ev all b id chat "from=$ID_A")
[ "$got" = "$(printf '%s\n' "${SENT_IDS[@]}")" ] ||
  fail "bob's chat events are not ada's $OPS_A ops once each, in order: [$(tr '\n' ' ' <<<"$got")]"

for n in "${NODES[@]}"; do
  if has "$n" error; then fail "$n logged an error: $(ev first "$n" message error)"; fi
done
close_input "$A"
close_input b
wait_exit "$A"
wait_exit b
pass "$((RUN - 1)) SIGKILLs right after \"sent\" lost none of ada's $OPS_A lines (order and ids kept); bob caught up to the same state_hash"
