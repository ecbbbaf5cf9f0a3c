#!/usr/bin/env bash
# A node that was away catches up by anti-entropy, with real `flashmesh`
# processes on loopback and no discovery beacons:
#   * ada starts; bob and carol dial her (--seed); carol writes a line that
#     ada and bob get, then quits gracefully (end of input, exit 0) and ada
#     sees her "left";
#   * while carol is away, ada and bob write 100 lines each (at the same
#     time), and ada sends carol a /dm (by full id: a durable sealed op);
#     ada and bob agree (same state_hash, ops 202); neither of them can read
#     the dm (no dm event; /history shows it with no text);
#   * carol restarts with the same key file (same id) and catches up: all
#     three show the same state_hash and op count within the deadline;
#     her /history 300 holds ada's 100 and bob's 100 lines, each in the
#     order written; she prints the 200 lines as chat events, and ada's dm
#     as {"event":"dm","via":"log"} from ada's id with its text.
# Logs: target/demo-logs/demo-anti-entropy-<node>.{jsonl,err} (carol's runs
# are c1 and c2). Env: see scripts/lib-demo.sh (FLASHMESH_BIN, LOG_DIR,
# DEADLINE_S, DEMO_JSON_TOOL).
set -euo pipefail
# shellcheck source=scripts/lib-demo.sh
source "$(dirname "$0")/lib-demo.sh"
demo_init demo-anti-entropy

# Carol's op-log is in rooms/<room tag>-<id>/: her restart needs the same
# room code and key file.
ROOM=demo-anti-entropy-$(random_digits 20)
NET=(--bind 127.0.0.1 --port 0 --no-discovery --room "$ROOM")
EACH=100
SECRET="for carol only $(random_digits 8)"
# Ops in the end: ada's and bob's lines, carol's line, the dm.
OPS=$((2 * EACH + 2))

# converged OPS NODE...: for polling: asks every NODE for /state; their
# latest answers all have OPS ops and one state_hash.
converged() {
  local ops=$1 n states
  shift
  for n in "$@"; do send "$n" /state; done
  # One line per node that answered already.
  states=$(for n in "$@"; do ev last "$n" . state; done | fields ops state_hash)
  [ "$(grep -c . <<<"$states")" = $# ] || return 1
  states=$(sort -u <<<"$states")
  [ "$(wc -l <<<"$states")" = 1 ] && [ "${states%%$'\t'*}" = "$ops" ]
}

# sent_at_least NODE N: NODE printed N "sent" events (or more).
sent_at_least() { more_than "$1" sent $(($2 - 1)); }

# --- ada, bob and carol linked ---------------------------------------------------
start_node_keyed a ada "${NET[@]}" --nick ada
wait_ready a ID_A
PORT_A=$(ev first a port ready)
start_node_keyed b bob "${NET[@]}" --nick bob --seed "127.0.0.1:$PORT_A"
start_node_keyed c1 carol "${NET[@]}" --nick carol --seed "127.0.0.1:$PORT_A"
wait_ready b ID_B
wait_ready c1 ID_C
step "bob's /peers lists his link to ada" linked_to b "$ID_A"
step "carol's /peers lists her link to ada" linked_to c1 "$ID_A"

send c1 "carol was here"
step "carol's line is sent" has c1 sent
step "ada gets carol's line" has a chat "from=$ID_C" "text=carol was here"
step "bob gets carol's line" has b chat "from=$ID_C" "text=carol was here"

# --- carol leaves; ada and bob write ---------------------------------------------
close_input c1
wait_exit c1 "carol exits after the end of her input"
has c1 shutdown || fail "carol exited without a shutdown event"
step "ada sees carol left" status_is a "$ID_C" left

mapfile -t LINES_A < <(seq -f "ada's line %g" 1 "$EACH")
mapfile -t LINES_B < <(seq -f "bob's line %g" 1 "$EACH")
T0=$(now_ms)
send_lines a "${LINES_A[@]}"
send_lines b "${LINES_B[@]}"
step "ada's $EACH \"sent\"" sent_at_least a "$EACH"
step "bob's $EACH \"sent\"" sent_at_least b "$EACH"
send a "/dm $ID_C $SECRET"
step "ada's dm to carol is sent (durable, sealed)" has a dm_sent "to=$ID_C" via=log
DM_ID=$(ev last a id dm_sent)
step "ada and bob agree: ops $OPS, one state_hash" converged "$OPS" a b
echo "ok: $((2 * EACH)) lines and the dm written while carol was away ($(secs $(($(now_ms) - T0))) s)"
HASH=$(ev last a state_hash state)
[ "$(count a dm)" = 0 ] || fail "ada printed a dm event: $(ev first a . dm)"
[ "$(count b dm)" = 0 ] || fail "bob printed a dm event (the dm is for carol): $(ev first b . dm)"
ask b "/history 300" history
DM_OP=$(ev last b 'ops[]' history | fields id applet text | grep "^$DM_ID") ||
  fail "bob's /history 300 has no op $DM_ID (ada's dm)"
[ "$DM_OP" = "$DM_ID"$'\t'dm$'\t'null ] ||
  fail "bob's /history shows ada's dm op (id, applet, text) as: $DM_OP"
echo "ok: bob holds ada's dm op but cannot read it (no dm event, no text in /history)"

# --- carol returns and catches up ------------------------------------------------
T0=$(now_ms)
start_node_keyed c2 carol "${NET[@]}" --nick carol --seed "127.0.0.1:$PORT_A"
wait_ready c2 ID
[ "$ID" = "$ID_C" ] || fail "carol restarted with id $ID, not $ID_C"
step "all three: ops $OPS, one state_hash" converged "$OPS" a b c2
[ "$(ev last c2 state_hash state)" = "$HASH" ] ||
  fail "ada, bob and carol agree on a state_hash other than the one before carol's return"
echo "ok: carol caught up $((OPS - 1)) ops in $(secs $(($(now_ms) - T0))) s (from her start)"

ask c2 "/history 300" history
[ "$(ev last c2 'ops[].id' history | wc -l)" = "$OPS" ] ||
  fail "carol's /history 300 lists $(ev last c2 'ops[].id' history | wc -l) ops, not $OPS"
# lines_of NODE AUTHOR: the texts of AUTHOR's chat ops in NODE's last
# /history, in its order.
lines_of() {
  ev last "$1" 'ops[]' history | fields author applet text |
    awk -F '\t' -v a="$2" '$1 == a && $2 == "chat" { print $3 }'
}
[ "$(lines_of c2 "$ID_A")" = "$(printf '%s\n' "${LINES_A[@]}")" ] ||
  fail "carol's /history does not hold ada's $EACH lines in order"
[ "$(lines_of c2 "$ID_B")" = "$(printf '%s\n' "${LINES_B[@]}")" ] ||
  fail "carol's /history does not hold bob's $EACH lines in order"
echo "ok: carol's /history 300 holds ada's $EACH and bob's $EACH lines, each in order"

step "carol gets ada's dm (via the log)" has c2 dm "from=$ID_A" "text=$SECRET" via=log "id=$DM_ID"
[ "$(count c2 dm)" = 1 ] || fail "carol printed $(count c2 dm) dm events, expected 1"
# chats_once NODE FROM IDS_NODE: NODE printed one chat event for each op
# IDS_NODE sent (from FROM), in the order sent.
chats_once() {
  [ "$(ev all "$1" id chat "from=$2")" = "$(ev all "$3" id sent)" ]
}
step "carol printed a chat event for each of ada's $EACH lines, once" chats_once c2 "$ID_A" a
step "carol printed a chat event for each of bob's $EACH lines, once" chats_once c2 "$ID_B" b

for n in a b c1 c2; do
  if has "$n" error; then fail "$n logged an error: $(ev first "$n" message error)"; fi
done
for n in a b c2; do close_input "$n"; done
for n in a b c2; do wait_exit "$n"; done
pass "carol, away for $((2 * EACH)) lines and a dm, caught up: one state_hash, ops $OPS on all three; the dm reached her alone"
