#!/usr/bin/env bash
# Lost and found with real `flashmesh` processes on loopback (no beacons:
# bob and carol join by --seed ada):
#   * ada reports a lost blue umbrella, bob a found set of keys (each with
#     where= and contact=); the other two get each post as an incoming op
#     and list it with its description, place and contact;
#   * carol claims the keys with a note ("that's mine"); bob reports ada's
#     umbrella found (a claim without a note); refusals change nothing:
#     bob claiming his own keys, ada claiming her own umbrella, carol
#     claiming the keys twice, ada resolving bob's keys;
#   * bob resolves the keys; a claim after the resolve (ada tries) and a
#     second resolve are refused; carol reports a found grey hoodie;
#   * /lostfound on every node: open items only, newest first (hoodie,
#     umbrella) with their claims; /lostfound all: the resolved keys too,
#     in their place by age; and all three agree on the state hash.
# Logs: target/demo-logs/demo-lost-found-<node>.{jsonl,err}. Env: see
# scripts/lib-demo.sh.
set -euo pipefail
# shellcheck source=scripts/lib-demo.sh
source "$(dirname "$0")/lib-demo.sh"
demo_init demo-lost-found

ROOM=demo-lost-found-$(random_digits 20)
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

# post NODE VAR KIND LINE: NODE posts LINE (/lost or /found); VAR is the
# short id of its "done" event; then the other two see it as an op.
post() {
  local node=$1 var=$2 kind=$3 line=$4 id n
  act "$node" "$line"
  [ "$(ev last "$node" action done)" = "$kind" ] || fail "$node's '$line' answered $(ev last "$node" . done)"
  printf -v "$var" '%s' "$(ev last "$node" short done)"
  [ -n "${!var}" ] && [ "${!var}" != null ] || fail "$node's done event has no short id: $(ev last "$node" . done)"
  id=$(ev last "$node" id done)
  for n in a b c; do
    [ "$n" = "$node" ] || step "$n sees $kind item ${!var}" has "$n" op applet=lostfound "action=$kind" "id=$id"
  done
}

post a UMBRELLA lost '/lost blue umbrella where=main hall contact=ada at the info desk'
post b KEYS found '/found set of keys on a red lanyard where=room 2 contact=ask bob at the bar'
[ "$(ev last c summary op applet=lostfound action=lost)" = "lost blue umbrella" ] ||
  fail "carol's incoming op for ada's umbrella: $(ev last c . op applet=lostfound action=lost)"
echo "ok: carol got ada's post as an op: lost blue umbrella"

# items NODE [all]: NODE's /lostfound [all], one word per item in the
# listed order: short:kind:open|resolved:claimers (nicks, comma-separated,
# in claim order; - for none).
items() {
  local node=$1 all=${2:-} short kind resolved claims who line out=""
  ask "$node" "/lostfound${all:+ $all}" lostfound
  while IFS=$'\t' read -r short kind resolved claims; do
    who=$(grep -o '"by":"[0-9a-f]*"' <<<"$claims" | cut -d'"' -f4 |
      sed -e "s/^$ID_A\$/ada/" -e "s/^$ID_B\$/bob/" -e "s/^$ID_C\$/carol/" | paste -sd,)
    line="$short:$kind:$([ "$resolved" = null ] && echo open || echo resolved):${who:--}"
    out+="${out:+ }$line"
  done < <(paste <(ev last "$node" 'items[].short' lostfound) \
    <(ev last "$node" 'items[].item' lostfound | fields kind resolved_ms claims))
  echo "$out"
}
items_are() { [ "$(items "$1" "${3:-}")" = "$2" ]; }
# every_node_lists DESC WANT [all]: a, b and c all list WANT.
every_node_lists() {
  local n
  for n in a b c; do step "$n lists $1: $2" items_are "$n" "$2" "${3:-}"; done
}
every_node_lists "both posts, newest first" "$KEYS:found:open:- $UMBRELLA:lost:open:-"
# item NODE SHORT FIELD..: the FIELDs of item SHORT in NODE's last listing.
item() {
  local node=$1 short=$2
  shift 2
  paste <(ev last "$node" 'items[].short' lostfound) <(ev last "$node" 'items[].item' lostfound) |
    awk -F'\t' -v s="$short" '$1 == s { print $2 }' | fields "$@"
}
for n in b c; do
  [ "$(item "$n" "$UMBRELLA" description place contact)" = $'blue umbrella\tmain hall\tada at the info desk' ] ||
    fail "$n's listing of the umbrella: $(item "$n" "$UMBRELLA" description place contact)"
  echo "ok: $n sees the umbrella: blue umbrella @ main hall (contact: ada at the info desk)"
done
[ "$(item a "$KEYS" description place contact)" = $'set of keys on a red lanyard\troom 2\task bob at the bar' ] ||
  fail "ada's listing of the keys: $(item a "$KEYS" description place contact)"
echo "ok: a sees the keys: set of keys on a red lanyard @ room 2 (contact: ask bob at the bar)"

act c "/claim $KEYS that's mine, my name is on the tag"
refused b "/claim $KEYS" "you posted item $KEYS: you cannot claim it"
refused c "/claim $KEYS still mine" "you have already claimed item $KEYS"
act b "/claim $UMBRELLA"
refused a "/claim $UMBRELLA" "you posted item $UMBRELLA: you cannot claim it"
step "bob sees carol's claim" op_seen b lostfound claim
step "ada sees bob's claim" op_seen a lostfound claim
refused a "/resolve $KEYS" "only the poster of item $KEYS can resolve it"
every_node_lists "the claims" "$KEYS:found:open:carol $UMBRELLA:lost:open:bob"
# claims NODE: who claimed what in NODE's last listing, with the notes.
claims() {
  ev last "$1" 'items[].item.claims[]' lostfound | fields by note |
    sed -e "s/^$ID_A/ada/" -e "s/^$ID_B/bob/" -e "s/^$ID_C/carol/" | tr '\t' : | paste -sd'|'
}
for n in a b c; do
  ask "$n" /lostfound lostfound
  [ "$(claims "$n")" = "carol:that's mine, my name is on the tag|bob:null" ] ||
    fail "$n's claims (keys, then umbrella): $(claims "$n")"
done
echo "ok: every node shows carol's claim of the keys with her note and bob's of the umbrella without one"

act b "/resolve $KEYS"
refused b "/resolve $KEYS" "item $KEYS is already resolved"
step "ada sees bob's resolve" op_seen a lostfound resolve
refused a "/claim $KEYS mine too" "item $KEYS is resolved"
post c HOODIE found '/found grey hoodie, size M where=cafe contact=carol'
every_node_lists "open items, newest first" "$HOODIE:found:open:- $UMBRELLA:lost:open:bob"
every_node_lists "all items, newest first" "$HOODIE:found:open:- $KEYS:found:resolved:carol $UMBRELLA:lost:open:bob" all
step "ada, bob and carol agree on the state" agree a b c

for n in a b c; do close_input "$n"; done
for n in a b c; do wait_exit "$n"; done
pass "lost and found items posted, claimed (never by the poster, once each), resolved by the poster only, no claims after; one listing and one state on three nodes"
