#!/usr/bin/env bash
# Resource requests with real `flashmesh` processes on loopback (no
# beacons: bob and carol join by --seed ada):
#   * ada asks for 2 chairs (low), then a medic (urgent); carol asks for
#     tape (normal), then ada for water (no urgency: normal); each request
#     reaches the other two as an incoming op before the next is written;
#   * /requests on every node: urgent, normal, low, and oldest first within
#     an urgency (tape before water);
#   * bob claims the medic request; refusals change nothing: carol's
#     second claim of it, ada claiming her own request, carol unclaiming
#     bob's claim, bob fulfilling an open request he has not claimed;
#   * bob unclaims (the request is open again), carol claims and fulfils
#     it; bob's cancel of ada's chairs is refused, ada cancels them; a
#     claim of a fulfilled or cancelled request is refused;
#   * /requests on every node: tape and water only (open); /requests all:
#     then the fulfilled and cancelled ones, oldest first; and all three
#     agree on the state hash.
# Logs: target/demo-logs/demo-requests-<node>.{jsonl,err}. Env: see
# scripts/lib-demo.sh.
set -euo pipefail
# shellcheck source=scripts/lib-demo.sh
source "$(dirname "$0")/lib-demo.sh"
demo_init demo-requests

ROOM=demo-requests-$(random_digits 20)
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
step "bob linked to ada" linked_to a "$ID_B"
step "carol linked to ada" linked_to a "$ID_C"

# on NODE LINE ACTION [VAR]: NODE runs LINE; its "done" says ACTION; VAR
# (if given) is set to the done's short id; then the other two see the op.
on() {
  local node=$1 line=$2 action=$3 var=${4:-} id short n
  act "$node" "$line"
  [ "$(ev last "$node" action done)" = "$action" ] || fail "$node's '$line' answered $(ev last "$node" . done)"
  short=$(ev last "$node" short done)
  [ -n "$short" ] && [ "$short" != null ] || fail "$node's done event has no short id: $(ev last "$node" . done)"
  [ -z "$var" ] || printf -v "$var" '%s' "$short"
  id=$(ev last "$node" id done)
  for n in a b c; do
    [ "$n" = "$node" ] || step "$n sees $action $short" has "$n" op applet=request "action=$action" "id=$id"
  done
}

on a '/request what=2 chairs where=stage left urgency=low' request CHAIRS
on a '/request what=a medic where=gate 3 urgency=urgent' request MEDIC
on c '/request what=a roll of tape where=info desk urgency=normal' request TAPE
on a '/request water for the crew' request WATER
[ "$(ev last b summary op applet=request action=request)" = "requests (normal) water for the crew" ] ||
  fail "bob's incoming op for ada's water: $(ev last b . op applet=request action=request)"
echo "ok: bob got ada's last request as an op: requests (normal) water for the crew"

# requests NODE [all]: NODE's /requests [all], one word per request in the
# listed order: short:urgency:status[:claimer nick].
requests() {
  local node=$1 all=${2:-}
  ask "$node" "/requests${all:+ $all}" requests
  paste <(ev last "$node" 'requests[].short' requests) \
    <(ev last "$node" 'requests[].request' requests | fields urgency status claimer) |
    sed -e "s/$ID_A/ada/" -e "s/$ID_B/bob/" -e "s/$ID_C/carol/" -e 's/\tnull$//' |
    tr '\t' : | paste -sd' '
}
requests_are() { [ "$(requests "$1" "${3:-}")" = "$2" ]; }
# every_node_lists DESC WANT [all]: a, b and c all list WANT.
every_node_lists() {
  local n
  for n in a b c; do step "$n lists $1: $2" requests_are "$n" "$2" "${3:-}"; done
}
every_node_lists "urgent, normal, low, oldest first" \
  "$MEDIC:urgent:open $TAPE:normal:open $WATER:normal:open $CHAIRS:low:open"
what=$(ev last c 'requests[].request' requests | fields what where | head -n 1)
[ "$what" = $'a medic\tgate 3' ] || fail "carol's listing of the medic request: $what"
echo "ok: carol sees what and where: a medic @ gate 3"

on b "/claim-request $MEDIC" claim
refused c "/claim-request $MEDIC" "request $MEDIC is already claimed"
refused a "/claim-request $CHAIRS" "you cannot claim your own request $CHAIRS"
refused c "/unclaim $MEDIC" "only the claimer of request $MEDIC can unclaim it"
refused b "/fulfil $TAPE" "claim request $TAPE before fulfilling it"
every_node_lists "bob holds the medic request" \
  "$MEDIC:urgent:claimed:bob $TAPE:normal:open $WATER:normal:open $CHAIRS:low:open"

on b "/unclaim $MEDIC" unclaim
every_node_lists "the medic request open again" \
  "$MEDIC:urgent:open $TAPE:normal:open $WATER:normal:open $CHAIRS:low:open"
on c "/claim-request $MEDIC" claim
on c "/fulfil $MEDIC" fulfil
refused b "/cancel $CHAIRS" "only the requester of request $CHAIRS can cancel it"
on a "/cancel $CHAIRS" cancel
refused b "/claim-request $MEDIC" "request $MEDIC is fulfilled"
refused b "/claim-request $CHAIRS" "request $CHAIRS is cancelled"
refused a "/cancel $CHAIRS" "request $CHAIRS is cancelled"
every_node_lists "open requests only" "$TAPE:normal:open $WATER:normal:open"
every_node_lists "all: then the closed ones, oldest first" \
  "$TAPE:normal:open $WATER:normal:open $CHAIRS:low:cancelled $MEDIC:urgent:fulfilled:carol" all
closed=$(ev last b 'requests[].request' requests | fields closed_by | tail -n 2 |
  sed -e "s/$ID_A/ada/" -e "s/$ID_C/carol/" | paste -sd' ')
[ "$closed" = "ada carol" ] || fail "bob's /requests all: closed by '$closed', expected 'ada carol'"
echo "ok: the chairs were cancelled by ada, the medic request fulfilled by carol"
step "ada, bob and carol agree on the state" agree a b c

for n in a b c; do close_input "$n"; done
for n in a b c; do wait_exit "$n"; done
pass "four requests at three urgencies, listed most urgent first; claimed (once, never by the requester), unclaimed, fulfilled, cancelled by the requester only; one listing and one state on three nodes"
