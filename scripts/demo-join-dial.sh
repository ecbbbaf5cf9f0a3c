#!/usr/bin/env bash
# Joining by link and dialling, with real `flashmesh` processes on loopback
# and no discovery beacons at all:
#   * ada starts with no --room: she gets a generated room code, and her
#     ready event carries a join link (room code + her address + id);
#   * bob starts with only `--join <that link>`: he dials ada from the link
#     alone; both see each other alive (with nicks);
#   * ada's chat reaches bob (from = ada's id); bob's `/dm ada ...` reaches
#     ada over their link; ada's /peers lists bob; ada's /join link has the
#     room code;
#   * carol, with another room code, dials ada with --seed: ada refuses her
#     (link_refused) and carol never gets a link up;
#   * bob quits (end of his input): he exits 0 and ada sees him "left".
# Logs: target/demo-logs/demo-join-dial-<node>.{jsonl,err}. Env: see
# scripts/lib-demo.sh (FLASHMESH_BIN, LOG_DIR, DEADLINE_S, DEMO_JSON_TOOL).
set -euo pipefail
# shellcheck source=scripts/lib-demo.sh
source "$(dirname "$0")/lib-demo.sh"
demo_init demo-join-dial

LOOPBACK=(--bind 127.0.0.1 --port 0 --no-discovery)

# --- ada: a generated room and a join link ------------------------------------
start_node ada "${LOOPBACK[@]}" --nick ada
wait_ready ada ID_A
URI=$(ev first ada join_uri ready)
PORT_A=$(ev first ada port ready)
[ "$(ev first ada generated_room ready)" = true ] ||
  fail "ada's ready event does not say generated_room: $(ev first ada . ready)"
case "$URI" in
  flashmesh://join\?*room=*) ;;
  *) fail "ada's join link has no room code: $URI" ;;
esac
case "$URI" in
  *"peer=127.0.0.1:$PORT_A"*) ;;
  *) fail "ada's join link does not name 127.0.0.1:$PORT_A: $URI" ;;
esac
echo "ok: ada ${ID_A:0:8} on 127.0.0.1:$PORT_A, generated room, join link $URI"

# --- bob dials ada from the link alone -----------------------------------------
start_node bob "${LOOPBACK[@]}" --join "$URI" --nick bob
wait_ready bob ID_B
# Ada was running before bob existed: her events tell it all.
step "ada accepts bob's link (inbound)" has ada link_up "peer=$ID_B" outbound=false
step "ada sees bob alive (member event)" status_is ada "$ID_B" here
# Nicks travel with membership; /dm by nick needs them.
knows_nick() { has "$1" member "node=$2" "nick=$3" || has "$1" nick "node=$2" "nick=$3"; }
step "ada knows bob's nick" knows_nick ada "$ID_B" bob
# Bob dialled while starting: ask him (/peers, /members), then check he
# also printed the link_up.
step "bob's /peers lists his link to ada" linked_to bob "$ID_A" "127.0.0.1:$PORT_A"
step "bob's /members lists ada alive, nick ada" listed bob "$ID_A" here ada
if ! DEADLINE_S=5 poll_until has bob link_up "peer=$ID_A" outbound=true; then
  fail "bob is linked to ada (his /peers lists her) but printed no link_up event for her:" \
    "the event was lost (flashmesh bug: events published while Node::start runs, before" \
    "the client subscribes, are dropped)"
fi
echo "ok: bob printed link_up for ada (outbound)"

# --- chat and direct message ---------------------------------------------------
send ada "hello from ada"
step "ada's chat is sent" has ada sent
step "bob gets ada's chat (from = ada's id)" has bob chat "from=$ID_A" "text=hello from ada" nick=ada

send bob "/dm ada secret-for-ada"
step "bob's dm to ada is sent" has bob dm_sent "to=$ID_A"
step "ada gets bob's dm (durable, sealed)" has ada dm "from=$ID_B" text=secret-for-ada via=log

# --- /peers and /join on ada ---------------------------------------------------
send ada "/peers"
step "ada's /peers answers" has ada peers
ev last ada 'peers[].peer' peers | grep -qx "$ID_B" ||
  fail "ada's /peers does not list bob: $(ev last ada . peers)"
echo "ok: ada's /peers lists bob"

send ada "/join"
step "ada's /join answers" has ada join
JOIN_URI=$(ev last ada uri join)
case "$JOIN_URI" in
  flashmesh://join\?*room=*) ;;
  *) fail "ada's /join link has no room code: $JOIN_URI" ;;
esac
[ "$JOIN_URI" = "$URI" ] || fail "ada's /join link $JOIN_URI differs from her ready link $URI"
[ "$(ev last ada room_included join)" = true ] || fail "ada's /join says room_included is not true"
echo "ok: ada's /join link has the room code"

# --- carol, from another room, is refused --------------------------------------
REFUSED_BEFORE=$(count ada link_refused)
start_node carol "${LOOPBACK[@]}" --nick carol \
  --room "another-room-$(random_digits 20)" --seed "127.0.0.1:$PORT_A"
wait_ready carol ID_C
step "carol's dial to ada is refused" has carol link_refused "addr=127.0.0.1:$PORT_A"
# Carol's dialler keeps retrying its seed: two refusals show it tried, and
# was turned away, more than once.
refused_twice() { [ "$(count ada link_refused)" -ge $((REFUSED_BEFORE + 2)) ]; }
step "ada refuses carol's links (twice)" refused_twice
if has carol link_up; then
  fail "carol (another room) got a link up: $(ev first carol . link_up)"
fi
if has ada link_up "peer=$ID_C"; then
  fail "ada counted a link up with carol (another room)"
fi
if has ada member "node=$ID_C" || has carol member "node=$ID_A"; then
  fail "ada and carol (different rooms) see each other as members"
fi
echo "ok: carol never linked; ada logged $(count ada link_refused) link_refused"

# --- bob leaves ----------------------------------------------------------------
close_input bob
wait_exit bob "bob exits after the end of his input"
has bob shutdown || fail "bob exited without a shutdown event"
step "ada sees bob left (member event)" status_is ada "$ID_B" left
step "ada's /members lists bob as left" listed ada "$ID_B" left

# Every message arrived once, and nobody got their own.
[ "$(count bob chat "text=hello from ada")" = 1 ] || fail "bob got ada's chat more than once"
[ "$(count ada chat)" = 0 ] || fail "ada got a chat back: $(ev first ada . chat)"
[ "$(count ada dm)" = 1 ] || fail "ada got $(count ada dm) dms, expected 1"
for node in ada bob carol; do
  if has "$node" error; then fail "$node logged an error: $(ev first "$node" message error)"; fi
done

close_input ada
close_input carol
wait_exit ada
wait_exit carol
pass "bob joined by link alone, chat and dm delivered, /peers and /join right, another room refused, leave seen"
