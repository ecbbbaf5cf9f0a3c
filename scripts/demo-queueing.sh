#!/usr/bin/env bash
# Queueing with real `flashmesh` processes on loopback (no beacons: bob and
# carol join by --seed ada):
#   * ada creates queue help ("Help desk") and owns it; bob and carol see
#     it as an incoming op;
#   * bob joins (label, party of 2, a note), then carol (party of 1, a
#     note); every node lists the same places (1 bob, 2 carol) and each
#     node's /queue list says where it stands (bob 1, carol 2, ada none);
#   * bob, at the head, gets a queue_head event ("you're next"); carol and
#     ada do not;
#   * refusals change nothing: bob joining again, a party of 0, carol and
#     bob serving a queue they do not own, bob creating a queue whose name
#     is taken, listing a queue that does not exist;
#   * ada serves the next: bob is served ("now serving" on every node),
#     carol moves up to the head and gets her queue_head; bob, served, can
#     no longer leave;
#   * carol leaves; ada serving the empty queue is refused;
#   * bob creates queue lockers; /queue list (no id) lists both queues, with
#     their owners, on every node; all three agree on the state hash.
# Logs: target/demo-logs/demo-queueing-<node>.{jsonl,err}. Env: see
# scripts/lib-demo.sh.
set -euo pipefail
# shellcheck source=scripts/lib-demo.sh
source "$(dirname "$0")/lib-demo.sh"
demo_init demo-queueing

ROOM=demo-queueing-$(random_digits 20)
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

# who ID: the nick of one of the three node ids (or the id itself).
who() {
  case "$1" in
    "$ID_A") echo ada ;;
    "$ID_B") echo bob ;;
    "$ID_C") echo carol ;;
    *) echo "$1" ;;
  esac
}

act a '/queue create help title="Help desk"'
step "bob sees the queue" op_seen b queue create
step "carol sees the queue" op_seen c queue create

act b '/queue join help label=bob party=2 note="laptop will not boot"'
# carol joins once she has bob's join: her place comes after his everywhere.
step "carol sees bob's join" op_seen c queue join
act c '/queue join help label=carol party=1 note=lost my badge'

# help_view NODE: NODE's /queue list help in one line: the waiting places
# ("position:label:party:note:node" each), who was served (label<by) and
# NODE's own place (my_position), e.g.
#   1:bob:2:laptop will not boot:bob | served=[] | mine=1
help_view() {
  local pos entries labels bys served=() out=() i l p n id
  ask "$1" '/queue list help' queue
  mapfile -t pos < <(ev last "$1" 'places[].position' queue)
  mapfile -t entries < <(ev last "$1" 'places[].entry' queue | fields label party note node)
  for i in "${!entries[@]}"; do
    IFS=$'\t' read -r l p n id <<<"${entries[$i]}"
    out+=("${pos[$i]}:$l:$p:$n:$(who "$id")")
  done
  mapfile -t labels < <(ev last "$1" 'queue.served[].entry.label' queue)
  mapfile -t bys < <(ev last "$1" 'queue.served[].by' queue)
  for i in "${!labels[@]}"; do served+=("${labels[$i]}<$(who "${bys[$i]}")"); done
  echo "${out[*]} | served=[${served[*]}] | mine=$(ev last "$1" my_position queue)"
}
# help_is NODE EXPECTED: for polling.
help_is() { [ "$(help_view "$1")" = "$2" ]; }
# place MY_POSITION: how a step names it.
place() { if [ "$1" = null ]; then echo none; else echo "number $1"; fi; }

WAITING2="1:bob:2:laptop will not boot:bob 2:carol:1:lost my badge:carol | served=[]"
for pair in a:null b:1 c:2; do
  step "${pair%%:*} lists help: 1 bob (party 2), 2 carol (party 1); its own place: $(place "${pair#*:}")" \
    help_is "${pair%%:*}" "$WAITING2 | mine=${pair#*:}"
done

step "bob, at the head, is told he is next (queue_head)" has b queue_head queue=help
[ "$(count c queue_head)" = 0 ] || fail "carol got a queue_head while bob is at the head: $(ev last c . queue_head)"
[ "$(count a queue_head)" = 0 ] || fail "ada, not waiting, got a queue_head: $(ev last a . queue_head)"
echo "ok: carol (number 2) and ada (not waiting) got no queue_head"

refused b '/queue join help label=bob again' 'already waiting in queue help (place 1)'
refused c '/queue join help label=carol party=0' 'a party is 1 to 50 people, not 0'
refused c '/queue next help' 'only the owner of queue help can serve it'
refused b '/queue next help' 'only the owner of queue help can serve it'
refused b '/queue create help title=Mine' 'queue help already exists'
refused b '/queue list nosuch' 'no queue nosuch'
for pair in a:null b:1 c:2; do
  step "${pair%%:*} still lists 1 bob, 2 carol after the refusals" \
    help_is "${pair%%:*}" "$WAITING2 | mine=${pair#*:}"
done

act a '/queue next help'
step "bob sees the next" op_seen b queue next
step "carol sees the next" op_seen c queue next
step "carol, now at the head, is told she is next (queue_head)" has c queue_head queue=help
[ "$(count b queue_head)" = 1 ] || fail "bob got $(count b queue_head) queue_head events, expected 1"
SERVED1="1:carol:1:lost my badge:carol | served=[bob<ada]"
for pair in a:null b:null c:1; do
  step "${pair%%:*}: bob served (by ada), 1 carol; its own place: $(place "${pair#*:}")" \
    help_is "${pair%%:*}" "$SERVED1 | mine=${pair#*:}"
done
refused b '/queue leave help' 'you are not waiting in queue help'

act c '/queue leave help'
step "ada sees carol leave" op_seen a queue leave
refused a '/queue next help' 'queue help is empty'
for n in a b c; do
  step "$n: help is empty, bob was the one served" help_is "$n" " | served=[bob<ada] | mine=null"
done

act b '/queue create lockers title="Locker keys"'
# queues NODE: NODE's /queue list: "id:owner:title" per queue, then who is
# waiting in any queue and who was served in any (labels).
queues() {
  local id owner title out=()
  ask "$1" '/queue list' queues
  while IFS=$'\t' read -r id owner title; do
    out+=("$id:$(who "$owner"):$title")
  done < <(ev last "$1" 'queues[]' queues | fields id owner title)
  echo "${out[*]} waiting=[$(ev last "$1" 'queues[].waiting[].label' queues | paste -sd,)]" \
    "served=[$(ev last "$1" 'queues[].served[].entry.label' queues | paste -sd,)]"
}
both_queues() {
  [ "$(queues "$1")" = "help:ada:Help desk lockers:bob:Locker keys waiting=[] served=[bob]" ]
}
for n in a b c; do
  step "$n's /queue list: help (ada's, bob served), lockers (bob's), nobody waiting" both_queues "$n"
done
step "ada, bob and carol agree on the state" agree a b c

for n in a b c; do close_input "$n"; done
for n in a b c; do wait_exit "$n"; done
pass "a queue joined by two (positions and my_position on every node), the head told it is next, served in order, left, refusals with their reasons, two queues listed; one state on three nodes"
