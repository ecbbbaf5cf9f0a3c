#!/usr/bin/env bash
# Two flashmesh nodes in two network namespaces joined by a bridge find each
# other by UDP discovery alone (no seed), link up and see each other alive.
#
# Layout (all inside namespaces this script creates and deletes):
#   fm-br-$$ : bridge br0, ports veth-a and veth-b
#   fm-a-$$  : eth0 10.77.0.1/24 (peer of veth-a)
#   fm-b-$$  : eth0 10.77.0.2/24 (peer of veth-b)
# Checks first that the bridge carries a UDP broadcast (python3, if present),
# then runs `flashmesh run --json` in fm-a, then fm-b, with the default beacon
# targets (every interface's broadcast address), waits until a logs a
# link_up with b's id (from its ready event) over the bridge, b's /peers
# lists a, and each sees the other alive, then ends both inputs and checks
# they exit cleanly.
#
# Needs root and `ip netns`; otherwise prints "SKIP: <reason>" and exits 0.
# Logs: target/demo-logs/netns-discovery-{a,b}.{jsonl,err}. Env: see
# scripts/lib-demo.sh (FLASHMESH_BIN, LOG_DIR, DEADLINE_S, DEMO_JSON_TOOL).
set -euo pipefail

ROOM=netns-test-room-4417
TCP_PORT=9000
DISCOVERY_PORT=9999
PROBE_PORT=9998

skip() {
  echo "SKIP netns-discovery: $*"
  exit 0
}

[ "$(id -u)" -eq 0 ] || skip "needs root to create network namespaces"
command -v ip >/dev/null 2>&1 || skip "ip (iproute2) is not installed"
PROBE_NS=fm-probe-$$
ip netns add "$PROBE_NS" >/dev/null 2>&1 || skip "ip netns is not usable here"
ip netns del "$PROBE_NS"

# shellcheck source=scripts/lib-demo.sh
source "$(dirname "$0")/lib-demo.sh"
demo_init netns-discovery

NS_BR=fm-br-$$
NS_A=fm-a-$$
NS_B=fm-b-$$
IP_A=10.77.0.1
IP_B=10.77.0.2
PROBE_PID=

# Called by the EXIT trap once the nodes are stopped.
demo_on_exit() {
  if [ -n "$PROBE_PID" ]; then
    kill "$PROBE_PID" 2>/dev/null
    wait "$PROBE_PID" 2>/dev/null
  fi
  for ns in "$NS_A" "$NS_B" "$NS_BR"; do
    ip netns del "$ns" 2>/dev/null
  done
}

# --- namespaces and bridge --------------------------------------------------
ip netns add "$NS_BR"
ip netns add "$NS_A"
ip netns add "$NS_B"
ip -n "$NS_BR" link add br0 type bridge
ip -n "$NS_BR" link set br0 up
for side in a b; do
  if [ "$side" = a ]; then ns=$NS_A addr=$IP_A; else ns=$NS_B addr=$IP_B; fi
  ip -n "$NS_BR" link add "veth-$side" type veth peer name eth0 netns "$ns"
  ip -n "$NS_BR" link set "veth-$side" master br0
  ip -n "$NS_BR" link set "veth-$side" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$addr/24" brd + dev eth0
  ip -n "$ns" link set eth0 up
done
echo "namespaces $NS_A ($IP_A) and $NS_B ($IP_B) on bridge br0 in $NS_BR"

# --- does the bridge carry a UDP broadcast? ---------------------------------
if command -v python3 >/dev/null 2>&1; then
  ip netns exec "$NS_B" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.settimeout(float(sys.argv[2]))
data, src = s.recvfrom(64)
print("broadcast check: %s from %s" % (data.decode(), src[0]))
' "$PROBE_PORT" "$DEADLINE_S" &
  PROBE_PID=$!
  # Resend until the listener (bound at some point meanwhile) got one.
  probe_done() {
    kill -0 "$PROBE_PID" 2>/dev/null || return 0
    ip netns exec "$NS_A" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.sendto(b"hello", ("10.77.0.255", int(sys.argv[1])))
' "$PROBE_PORT"
    return 1
  }
  wait_for "a UDP broadcast from $NS_A reaches $NS_B" probe_done
  rc=0
  wait "$PROBE_PID" || rc=$?
  PROBE_PID=
  [ "$rc" -eq 0 ] || fail "a UDP broadcast from $NS_A did not reach $NS_B"
else
  echo "python3 not found: skipping the broadcast check"
fi

# --- flashmesh --------------------------------------------------------------
# Default beacon targets and bind address: what a person on a LAN would run.
# b starts once a runs, so a prints every event about b; b's own view is
# read from /peers and /members (events b printed while it was still
# starting can be missing: see scripts/demo-join-dial.sh).
RUN_PREFIX=(ip netns exec "$NS_A")
start_node a --room "$ROOM" --port "$TCP_PORT" --discovery-port "$DISCOVERY_PORT" --nick a
wait_ready a ID_A
RUN_PREFIX=(ip netns exec "$NS_B")
start_node b --room "$ROOM" --port "$TCP_PORT" --discovery-port "$DISCOVERY_PORT" --nick b
RUN_PREFIX=()
START_MS=$(now_ms)
wait_ready b ID_B

# Found by beacons over the bridge: links between the bridge addresses.
step "a logs a link_up with b (over $IP_B)" has a link_up "peer=$ID_B"
addr_ok() { ev all "$1" addr link_up "peer=$2" | grep -qE "^$3:[0-9]+$"; }
addr_ok a "$ID_B" "$IP_B" || fail "a's link to b is not over $IP_B: $(ev all a addr link_up)"
step "b's /peers lists a (over $IP_A)" linked_to b "$ID_A" "$IP_A:"
LINK_MS=$(($(now_ms) - START_MS))
step "a sees b alive (member event)" status_is a "$ID_B" here
step "b's /members lists a alive" listed b "$ID_A" here a
echo "ok: linked by discovery in $(secs "$LINK_MS") s: a=${ID_A:0:8} b=${ID_B:0:8}"

# --- quit -------------------------------------------------------------------
close_input a
close_input b
wait_exit a "a exits after the end of its input"
wait_exit b "b exits after the end of its input"
has a shutdown || fail "a exited without a shutdown event"
has b shutdown || fail "b exited without a shutdown event"
pass "two namespaces found each other by beacons, linked over the bridge, saw each other alive, left cleanly"
