#!/usr/bin/env bash
# Announcements with real `flashmesh` processes on loopback (no beacons:
# bob and carol join by --seed ada):
#   * ada posts "doors open at 9" with no topic (it goes to general); bob
#     posts to #food, ada posts to #food, carol posts to general; each post
#     reaches the other two as an incoming op before the next is written,
#     so the fold order is the posting order;
#   * ada pins her first post, bob pins his; refusals change nothing: bob
#     pinning ada's post, bob unpinning ada's post, ada pinning her pinned
#     post again;
#   * /announcements on every node: pinned first, then newest first (bob's
#     pin is newer than ada's); /announcements #food only that topic;
#   * ada unpins her post: it drops back to its place by age;
#   * ada retracts her #food post (bob's retract of it is refused first):
#     it leaves every listing, on every node; a pin of it is refused as
#     retracted; and all three agree on the state hash.
# Logs: target/demo-logs/demo-announcements-<node>.{jsonl,err}. Env: see
# scripts/lib-demo.sh.
set -euo pipefail
# shellcheck source=scripts/lib-demo.sh
source "$(dirname "$0")/lib-demo.sh"
demo_init demo-announcements

ROOM=demo-announcements-$(random_digits 20)
NET=(--bind 127.0.0.1 --port 0 --no-discovery --room "$ROOM")

start_node_keyed a ada "${NET[@]}" --nick ada
wait_ready a ID_A
PORT_A=$(ev first a port ready)
for n in b:bob c:carol; do
  start_node_keyed "${n%%:*}" "${n#*:}" "${NET[@]}" --nick "${n#*:}" --seed "127.0.0.1:$PORT_A"
  wait_ready "${n%%:*}" IGNORED
done
step "bob linked to ada" linked_to a "$(ev first b id ready)"
step "carol linked to ada" linked_to a "$(ev first c id ready)"

# post NODE VAR LINE: NODE posts LINE; VAR is the short id of its "done".
# Then every other node has it (as its Nth incoming post).
POSTS=0
post() {
  local node=$1 var=$2 line=$3 n
  act "$node" "$line"
  [ "$(ev last "$node" action done)" = post ] || fail "$node's '$line' answered $(ev last "$node" . done)"
  printf -v "$var" '%s' "$(ev last "$node" short done)"
  [ -n "${!var}" ] && [ "${!var}" != null ] || fail "$node's done event has no short id: $(ev last "$node" . done)"
  POSTS=$((POSTS + 1))
  for n in a b c; do
    [ "$n" = "$node" ] && continue
    # Each node sees the posts of the other two: POSTS minus its own.
    step "$n sees post ${!var}" op_seen "$n" announce post "$((POSTS - $(count "$n" done applet=announce action=post)))"
  done
}

post a A1 '/announce doors open at 9'
A1_ID=$(ev last a id done)
post b B1 '/announce #food lunch at noon in hall B'
post a A2 '/announce #food coffee all day at the bar'
post c C1 '/announce #general wifi password is flash'
[ "$(ev last b summary op applet=announce action=post "id=$A1_ID")" = "announced in #general: doors open at 9" ] ||
  fail "bob's incoming op for ada's post: $(ev last b . op "id=$A1_ID")"
echo "ok: bob got ada's post as an op: announced in #general: doors open at 9"

# listing NODE [#TOPIC]: NODE's /announcements [#TOPIC] as "short#topic"
# per entry (with a trailing * when pinned), in the listed order.
listing() {
  local node=$1 topic=${2:-}
  ask "$node" "/announcements${topic:+ $topic}" announcements
  paste -d' ' \
    <(ev last "$node" 'announcements[].short' announcements) \
    <(ev last "$node" 'announcements[].announcement' announcements | fields topic pinned) |
    awk '{ printf "%s%s#%s%s", (NR > 1 ? " " : ""), $1, $2, ($3 == "true" ? "*" : "") }'
}
listing_is() { [ "$(listing "$1" "${3:-}")" = "$2" ]; }
# every_node_lists DESC WANT [#TOPIC]: a, b and c all list WANT.
every_node_lists() {
  local n
  for n in a b c; do step "$n lists $1: $2" listing_is "$n" "$2" "${3:-}"; done
}
every_node_lists "newest first" "$C1#general $A2#food $B1#food $A1#general"

act a "/pin $A1"
step "bob sees ada's pin" op_seen b announce pin
refused b "/pin $A2" "only the author of announcement $A2 can pin it"
refused b "/unpin $A1" "only the author of announcement $A1 can unpin it"
refused a "/pin $A1" "announcement $A1 is already pinned"
act b "/pin $B1"
for n in a c; do step "$n sees bob's pin" op_seen "$n" announce pin "$([ $n = a ] && echo 1 || echo 2)"; done
every_node_lists "pinned first, newest first" "$B1#food* $A1#general* $C1#general $A2#food"
every_node_lists "#food only" "$B1#food* $A2#food" '#food'
every_node_lists "#general only" "$A1#general* $C1#general" '#general'

act a "/unpin $A1"
refused a "/unpin $A1" "announcement $A1 is not pinned"
for n in b c; do step "$n sees ada's unpin" op_seen "$n" announce unpin; done
every_node_lists "after ada's unpin" "$B1#food* $C1#general $A2#food $A1#general"

refused b "/retract $A2" "only the author of announcement $A2 can retract it"
act a "/retract $A2"
for n in b c; do step "$n sees ada's retract" op_seen "$n" announce retract; done
refused a "/pin $A2" "announcement $A2 is retracted"
refused a "/retract $A2" "announcement $A2 is retracted"
every_node_lists "without the retracted post" "$B1#food* $C1#general $A1#general"
every_node_lists "#food without it" "$B1#food*" '#food'
step "ada, bob and carol agree on the state" agree a b c

for n in a b c; do close_input "$n"; done
for n in a b c; do wait_exit "$n"; done
pass "four posts in two topics (general by default), pinned and unpinned by their authors only, one retracted; one listing (pinned first, newest first) and one state on three nodes"
