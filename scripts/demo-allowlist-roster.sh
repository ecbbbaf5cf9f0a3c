#!/usr/bin/env bash
# The roster (allowlist) with real `flashmesh` processes on loopback (no
# beacons: bob and carol join by --seed ada); node ids come from each
# node's ready event:
#   * /roster starts open on every node (no founder, no members); ada
#     inviting herself is refused and leaves it open;
#   * ada invites bob (by his full id): the roster closes, ada is its
#     founder; carol, not invited, may no longer change it (refused);
#   * bob invites carol: membership is a chain of invitations back to the
#     founder (carol invited by bob, bob by ada);
#   * ada makes bob a kiosk, bob makes carol one;
#   * ada revokes carol. Revocation always wins: bob inviting carol again
#     is refused, so is making her a kiosk, and she is no kiosk any more;
#     carol's own roster ops (revoking bob, revoking herself again) are
#     refused;
#   * /roster on every node shows the same founder, members (ada by ada,
#     bob by ada), revoked (carol by ada) and kiosks (bob);
#   * the roster is state only (refusing links and ops of revoked nodes
#     comes with the access-control work): carol stays linked to ada; all
#     three agree on the state hash.
# Logs: target/demo-logs/demo-allowlist-roster-<node>.{jsonl,err}. Env: see
# scripts/lib-demo.sh.
set -euo pipefail
# shellcheck source=scripts/lib-demo.sh
source "$(dirname "$0")/lib-demo.sh"
demo_init demo-allowlist-roster

ROOM=demo-allowlist-roster-$(random_digits 20)
NET=(--bind 127.0.0.1 --port 0 --no-discovery --room "$ROOM")

start_node_keyed a ada "${NET[@]}" --nick ada
wait_ready a ID_A
PORT_A=$(ev first a port ready)
for n in b:bob c:carol; do
  start_node_keyed "${n%%:*}" "${n#*:}" "${NET[@]}" --nick "${n#*:}" --seed "127.0.0.1:$PORT_A"
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

# roster NODE: NODE's /roster in one line: "open=.. founder=.. members=[..]
# revoked=[..] kiosks=[..]", each entry as node<by (nicks).
roster() {
  local list out node by
  ask "$1" /roster roster
  out="open=$(ev last "$1" roster.open roster) founder=$(who "$(ev last "$1" roster.founder roster)")"
  for list in members revoked kiosks; do
    local entries=()
    while IFS=$'\t' read -r node by; do
      entries+=("$(who "$node")<$(who "$by")")
    done < <(ev last "$1" "roster.$list[]" roster | fields node by)
    out+=" $list=[${entries[*]}]"
  done
  echo "$out"
}
# roster_is NODE EXPECTED: for polling.
roster_is() { [ "$(roster "$1")" = "$2" ]; }

OPEN="open=true founder=null members=[] revoked=[] kiosks=[]"
for n in a b c; do step "$n: /roster starts open (no founder, no members)" roster_is "$n" "$OPEN"; done

refused a "/invite $ID_A" 'you cannot invite yourself'
step "a: the refused self-invitation wrote nothing (still open)" roster_is a "$OPEN"

act a "/invite $ID_B"
[ "$(ev last a node done)" = "$ID_B" ] || fail "ada's invite names $(ev last a node done), not bob ($ID_B)"
step "bob sees his invitation" op_seen b roster invite
step "carol sees ada's invitation of bob" op_seen c roster invite
CLOSED1="open=false founder=ada members=[ada<ada bob<ada] revoked=[] kiosks=[]"
for n in a b c; do step "$n: invite-only, founder ada, members ada and bob (by ada)" roster_is "$n" "$CLOSED1"; done
refused c "/kiosk add $ID_C" "only members can change the roster (node ${ID_C:0:8} is not invited)"

act b "/invite $ID_C"
[ "$(ev last b node done)" = "$ID_C" ] || fail "bob's invite names $(ev last b node done), not carol"
step "carol sees her invitation" op_seen c roster invite 2
step "ada sees bob's invitation of carol" op_seen a roster invite
# Members list the founder first, then by node id.
chain_is() {
  local want
  want=$(printf '%s\n' "bob<ada" "carol<bob" | while read -r e; do
    case "${e%%<*}" in bob) echo "$ID_B $e" ;; carol) echo "$ID_C $e" ;; esac
  done | sort | cut -d' ' -f2 | paste -sd' ')
  roster_is "$1" "open=false founder=ada members=[ada<ada $want] revoked=[] kiosks=[]"
}
for n in a b c; do step "$n: the chain ada -> bob -> carol (carol invited by bob)" chain_is "$n"; done

act a "/kiosk add $ID_B"
step "bob sees ada's kiosk designation" op_seen b roster kiosk_add
act b "/kiosk add $ID_C"
step "ada sees bob's kiosk designation" op_seen a roster kiosk_add 1
step "carol sees both kiosk designations" op_seen c roster kiosk_add 2
# kiosks NODE: the kiosk nicks in NODE's /roster, sorted.
kiosks() {
  ask "$1" /roster roster
  ev last "$1" 'roster.kiosks[].node' roster | while read -r id; do who "$id"; done | sort | paste -sd' '
}
kiosks_are() { [ "$(kiosks "$1")" = "$2" ]; }
for n in a b c; do step "$n: kiosks bob and carol" kiosks_are "$n" "bob carol"; done

act a "/revoke $ID_C"
step "bob sees carol's revocation" op_seen b roster revoke
step "carol sees her revocation" op_seen c roster revoke
# Refusals name the node by its first 8 hex digits.
C8=${ID_C:0:8}
refused b "/invite $ID_C" "node $C8 is revoked: revocation always wins"
refused a "/kiosk add $ID_C" "node $C8 is revoked: revocation always wins"
refused c "/revoke $ID_B" "node $C8 is revoked and cannot change the roster"
refused c "/invite $ID_A" "node $C8 is revoked and cannot change the roster"
refused c "/revoke $ID_C" "node $C8 is already revoked"

FINAL="open=false founder=ada members=[ada<ada bob<ada] revoked=[carol<ada] kiosks=[bob<ada]"
for n in a b c; do
  step "$n: members ada and bob, carol revoked (by ada), kiosk bob only" roster_is "$n" "$FINAL"
done
# One roster everywhere, op ids included (who did what, in which op).
ROSTER_A=$(ev last a roster roster)
for n in b c; do
  [ "$(ev last "$n" roster roster)" = "$ROSTER_A" ] ||
    fail "$n's /roster differs from ada's: $(ev last "$n" roster roster) vs $ROSTER_A"
done
echo "ok: the three /roster answers are identical (entries, authors, op ids)"

# State only: nothing refuses carol's link yet (enforcement comes later).
step "carol, revoked, is still linked to ada (the roster is state only)" linked_to a "$ID_C"
step "carol's side: still linked to ada" linked_to c "$ID_A"
step "ada, bob and carol agree on the state" agree a b c

for n in a b c; do close_input "$n"; done
for n in a b c; do wait_exit "$n"; done
pass "an open roster closed by ada's invitation, an invitation chain, kiosks, a revocation that wins over invitations and kiosks, refusals with their reasons; one roster and one state on three nodes"
