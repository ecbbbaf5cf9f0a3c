#!/usr/bin/env bash
# The roster enforced, with real `flashmesh` processes on loopback (no
# beacons: bob and carol join by --seed ada); node ids come from each
# node's ready event:
#   * ada starts a room she runs (--root me); bob and carol join it with the
#     same code and --root ADA (what her join link carries);
#   * /roster starts open on every node with root ada; ada inviting herself
#     and carol inviting anyone are refused with their reasons;
#   * ada names bob an organiser; bob invites carol: the room is
#     invite-only, members ada, bob (organiser) and carol (by bob);
#   * bob makes carol a kiosk; carol writes a chat line everyone sees;
#   * ada revokes carol: every node shows carol revoked; ada's and bob's
#     links to carol close with the reason, which carol sees too ("... is
#     revoked from this room"); carol's next dial is refused; carol's own
#     node refuses her next chat line, and no later line of hers appears
#     on ada or bob; revocation wins over bob inviting her again;
#   * ada and bob agree on the state hash; carol's earlier line stands.
# Logs: target/demo-logs/demo-allowlist-roster-<node>.{jsonl,err}. Env: see
# scripts/lib-demo.sh.
set -euo pipefail
# shellcheck source=scripts/lib-demo.sh
source "$(dirname "$0")/lib-demo.sh"
demo_init demo-allowlist-roster

ROOM=demo-allowlist-roster-$(random_digits 20)
NET=(--bind 127.0.0.1 --port 0 --no-discovery --room "$ROOM")

start_node_keyed a ada "${NET[@]}" --nick ada --root me
wait_ready a ID_A
PORT_A=$(ev first a port ready)
for n in b:bob c:carol; do
  start_node_keyed "${n%%:*}" "${n#*:}" "${NET[@]}" --root "$ID_A" --nick "${n#*:}" --seed "127.0.0.1:$PORT_A"
  wait_ready "${n%%:*}" IGNORED
done
ID_B=$(ev first b id ready)
ID_C=$(ev first c id ready)
[[ "$ID_A" =~ ^[0-9a-f]{64}$ && "$ID_B" =~ ^[0-9a-f]{64}$ && "$ID_C" =~ ^[0-9a-f]{64}$ ]] ||
  fail "ready ids are not 64 hex digits: $ID_A $ID_B $ID_C"
step "bob linked to ada" linked_to a "$ID_B"
step "carol linked to ada" linked_to a "$ID_C"

# who ID: the nick of one of the three node ids (or the id itself).
who() {
  case "$1" in
    "$ID_A") echo ada ;;
    "$ID_B") echo bob ;;
    "$ID_C") echo carol ;;
    *) echo "$1" ;;
  esac
}

# roster NODE: NODE's /roster in one line: "open=.. root=.. organisers=[..]
# members=[..] revoked=[..] kiosks=[..]", each entry as node<by (nicks).
roster() {
  local list out node by
  ask "$1" /roster roster
  out="open=$(ev last "$1" roster.open roster) root=$(who "$(ev last "$1" roster.root roster)")"
  for list in organisers members kiosks; do
    local entries=()
    while IFS=$'\t' read -r node by; do
      entries+=("$(who "$node")<$(who "$by")")
    done < <(ev last "$1" "roster.$list[]" roster | fields node by)
    out+=" $list=[${entries[*]}]"
  done
  local revoked=()
  while IFS=$'\t' read -r node by; do
    revoked+=("$(who "$node")<$(who "$by")")
  done < <(ev last "$1" "roster.revoked[].entry" roster | fields node by)
  out+=" revoked=[${revoked[*]}]"
  echo "$out"
}
# roster_is NODE EXPECTED: for polling.
roster_is() { [ "$(roster "$1")" = "$2" ]; }
# sorted NICK<BY ...: the entries ordered by node id, as /roster lists them.
sorted() {
  local e
  for e in "$@"; do
    case "${e%%<*}" in ada) echo "$ID_A $e" ;; bob) echo "$ID_B $e" ;; carol) echo "$ID_C $e" ;; esac
  done | sort | cut -d' ' -f2 | paste -sd' '
}

A8=${ID_A:0:8}
B8=${ID_B:0:8}
C8=${ID_C:0:8}
# Before any roster op the roster names no root yet; refusals come first.
refused a "/invite $ID_A" 'you cannot invite yourself'
refused c "/invite $ID_B" "only the root and organisers can change the roster (node $C8 is not an organiser)"

act a "/organiser add $ID_B"
step "bob sees he is an organiser" op_seen b roster organiser_add
OPEN="open=true root=ada organisers=[bob<ada] members=[ada<ada bob<ada] kiosks=[] revoked=[]"
for n in a b c; do step "$n: open room, root ada, organiser bob" roster_is "$n" "$OPEN"; done

act b "/invite $ID_C"
[ "$(ev last b node done)" = "$ID_C" ] || fail "bob's invite names $(ev last b node done), not carol"
step "carol sees her invitation" op_seen c roster invite
step "ada sees bob's invitation of carol" op_seen a roster invite
CLOSED="open=false root=ada organisers=[bob<ada] members=[ada<ada $(sorted bob\<ada carol\<bob)] kiosks=[] revoked=[]"
for n in a b c; do step "$n: invite-only, members ada, bob and carol (by bob)" roster_is "$n" "$CLOSED"; done
refused c "/kiosk add $ID_C" "only the root and organisers can change the roster (node $C8 is not an organiser)"

act b "/kiosk add $ID_C"
step "ada sees bob's kiosk designation" op_seen a roster kiosk_add
send c "before the revocation"
step "carol's line is sent" has c sent
for n in a b; do
  step "$n gets carol's line" has "$n" chat "from=$ID_C" "text=before the revocation"
done

act a "/revoke $ID_C"
step "bob sees carol's revocation" op_seen b roster revoke
FINAL="open=false root=ada organisers=[bob<ada] members=[ada<ada bob<ada] kiosks=[] revoked=[carol<ada]"
for n in a b; do step "$n: carol revoked (by ada), no kiosk left" roster_is "$n" "$FINAL"; done

# Enforced on links: ada and bob close theirs to carol, saying why, and
# carol hears it.
not_linked() { ! linked_to "$1" "$2"; }
step "ada's link to carol is gone" not_linked a "$ID_C"
step "bob's link to carol is gone" not_linked b "$ID_C"
step "ada closed carol's link with the reason" has a link_down "peer=$ID_C" "reason=node $C8 is revoked from this room"
carol_told() {
  ev all c reason link_down | grep -qF "the peer ended the link: node $C8 is revoked from this room"
}
step "carol was told why her links ended" carol_told
# Carol's node redials ada (topology reconnects); ada refuses the link
# after its handshake, with the reason.
step "ada refuses carol's next link" has a link_refused "reason=node $C8 is revoked from this room"
step "carol stays unlinked from ada" not_linked c "$ID_A"

# Enforced on ops: carol's own node refuses her next line (it folds the
# same roster), and nothing of hers after the revocation reaches anyone.
step "carol's node has folded her revocation" op_seen c roster revoke
refused c "after the revocation" "node $C8 was revoked"
refused b "/invite $ID_C" "node $C8 is revoked: revocation always wins"
refused c "/invite $ID_A" "was revoked"
step "ada and bob agree on the state" agree a b
for n in a b; do
  [ "$(count "$n" chat "from=$ID_C")" = 1 ] ||
    fail "$n shows $(count "$n" chat "from=$ID_C") lines from carol; expected only the one before her revocation"
done
echo "ok: carol's line before the revocation stands; nothing of hers after it reached ada or bob"

for n in a b c; do close_input "$n"; done
for n in a b c; do wait_exit "$n"; done
pass "a rooted room: organiser named by the root, invite-only after the first invitation, refusals with reasons; carol revoked: her links closed and refused with the reason on both sides, her later line refused, ada and bob agree"
