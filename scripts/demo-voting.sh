#!/usr/bin/env bash
# Voting with real `flashmesh` processes on loopback (no beacons: bob and
# carol join by --seed ada):
#   * ada opens poll lunch (pizza, salad, soup; closes in 10 minutes); bob
#     and carol see it as an incoming op;
#   * bob votes pizza, then changes to soup; carol votes salad; ada votes
#     salad; refusals change nothing: an option not in the poll, a poll
#     that does not exist, a close by someone other than the creator;
#   * every node shows the same live tally: salad 2, soup 1, pizza 0;
#   * ada closes the poll: carol's op event and ada's answer carry the
#     result (salad wins); a vote after the close is refused on every node
#     (carol tries), the tally stays, /vote list shows the close time, and
#     all three agree on the state hash.
# Logs: target/demo-logs/demo-voting-<node>.{jsonl,err}. Env: see
# scripts/lib-demo.sh.
set -euo pipefail
# shellcheck source=scripts/lib-demo.sh
source "$(dirname "$0")/lib-demo.sh"
demo_init demo-voting

ROOM=demo-voting-$(random_digits 20)
NET=(--bind 127.0.0.1 --port 0 --no-discovery --room "$ROOM")

start_node_keyed a ada "${NET[@]}" --nick ada
wait_ready a ID_A
PORT_A=$(ev first a port ready)
for n in b:bob c:carol; do
  start_node_keyed "${n%%:*}" "${n#*:}" "${NET[@]}" --nick "${n#*:}" --seed "127.0.0.1:$PORT_A"
  wait_ready "${n%%:*}" IGNORED
done
step "bob and carol linked to ada" linked_to a "$(ev first b id ready)"
step "carol linked to ada" linked_to a "$(ev first c id ready)"

act a '/vote meta lunch title="What for lunch?" options=pizza,salad,soup closes=10m'
step "bob sees the poll" op_seen b vote create
step "carol sees the poll" op_seen c vote create

act b '/vote lunch pizza'
act b '/vote lunch soup'
act c '/vote lunch salad'
act a '/vote lunch salad'
refused b '/vote lunch tacos' 'not in poll lunch'
refused b '/vote dinner pizza' 'no poll dinner'
refused b '/vote close lunch' 'creator'

# tally NODE: "option:votes ..." and the voter count from NODE's /vote show.
tally() {
  ask "$1" '/vote show lunch' poll
  ev last "$1" 'tally.counts[]' poll | fields option votes | tr '\t' : | paste -sd' '
}
tally_is() { [ "$(tally "$1")" = "pizza:0 salad:2 soup:1" ]; }
for n in a b c; do step "$n's tally: pizza 0, salad 2, soup 1" tally_is "$n"; done
[ "$(ev last b my_vote poll)" = soup ] || fail "bob's /vote show says his vote is $(ev last b my_vote poll), not soup"
echo "ok: bob's changed vote counts once (soup)"

act a '/vote close lunch'
step "carol sees the close" op_seen c vote close
winner=$(ev last c result.winner op applet=vote action=close)
[ "$winner" = salad ] || fail "carol's close event does not name salad the winner: $(ev last c . op applet=vote action=close)"
[ "$(ev last a result.winner done applet=vote action=close)" = salad ] ||
  fail "ada's close answer does not name salad the winner: $(ev last a . done applet=vote action=close)"
echo "ok: the close announces the result (salad wins) to carol and to ada"
refused c '/vote lunch pizza' 'closed'
refused a '/vote close lunch' 'closed'
for n in a b c; do step "$n's tally after the close is unchanged" tally_is "$n"; done
[ "$(ev last a 'tally.closed' poll)" = true ] || fail "ada's /vote show does not say closed: $(ev last a . poll)"
ask b '/vote list' polls
[ "$(ev last b 'polls[].tally.poll' polls)" = lunch ] || fail "bob's /vote list: $(ev last b . polls)"
[[ "$(ev last b 'polls[].closes_at' polls)" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}\ [0-9]{2}:[0-9]{2}\ UTC$ ]] ||
  fail "bob's /vote list has no close time: $(ev last b . polls)"
step "ada, bob and carol agree on the state" agree a b c

for n in a b c; do close_input "$n"; done
for n in a b c; do wait_exit "$n"; done
pass "a poll opened, voted (one changeable vote each), refused bad votes, closed; one tally and one state on three nodes"
