#!/usr/bin/env bash
# Two flashmesh nodes in two network namespaces joined by a bridge find each
# other by UDP discovery alone (no seed) and link up.
#
# Layout (all inside namespaces this script creates and deletes):
#   fm-br-$$ : bridge br0, ports veth-a and veth-b
#   fm-a-$$  : eth0 10.77.0.1/24 (peer of veth-a)
#   fm-b-$$  : eth0 10.77.0.2/24 (peer of veth-b)
# Checks first that the bridge carries a UDP broadcast (python3, if present),
# then runs `flashmesh run --json` in fm-a and fm-b and waits until each logs
# a link_up naming the other's id (from its ready line).
#
# Needs root and `ip netns`; otherwise prints "SKIP: <reason>" and exits 0.
# Env: FLASHMESH_BIN (default ${CARGO_TARGET_DIR:-target}/debug/flashmesh,
# built if missing), LOG_DIR (default target/demo-logs),
# DEADLINE_S (default 30).
set -euo pipefail
cd "$(dirname "$0")/.."

ROOM=netns-test-room-4417
TCP_PORT=9000
DISCOVERY_PORT=9999
PROBE_PORT=9998
DEADLINE_S=${DEADLINE_S:-30}
POLL_S=0.2
LOG_DIR=${LOG_DIR:-target/demo-logs}
BIN=${FLASHMESH_BIN:-${CARGO_TARGET_DIR:-target}/debug/flashmesh}

skip() {
  echo "SKIP: $*"
  exit 0
}

[ "$(id -u)" -eq 0 ] || skip "needs root to create network namespaces"
command -v ip >/dev/null 2>&1 || skip "ip (iproute2) is not installed"
PROBE_NS=fm-probe-$$
ip netns add "$PROBE_NS" >/dev/null 2>&1 || skip "ip netns is not usable here"
ip netns del "$PROBE_NS"

NS_BR=fm-br-$$
NS_A=fm-a-$$
NS_B=fm-b-$$
IP_A=10.77.0.1
IP_B=10.77.0.2
TMP=$(mktemp -d)

# Ends only this shell's own background jobs that still run (by pid).
cleanup() {
  local pid
  for pid in $(jobs -pr); do
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  for ns in "$NS_A" "$NS_B" "$NS_BR"; do
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

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
  listener=$!
  start=$SECONDS
  # Resend until the listener (bound at some point meanwhile) got one.
  while kill -0 "$listener" 2>/dev/null && ((SECONDS - start < DEADLINE_S)); do
    ip netns exec "$NS_A" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.sendto(b"hello", ("10.77.0.255", int(sys.argv[1])))
' "$PROBE_PORT"
    sleep "$POLL_S"
  done
  if ! wait "$listener"; then
    echo "FAIL: a UDP broadcast from $NS_A did not reach $NS_B" >&2
    exit 1
  fi
else
  echo "python3 not found: skipping the broadcast check"
fi

# --- flashmesh --------------------------------------------------------------
if [ ! -x "$BIN" ]; then
  if [ -n "${FLASHMESH_BIN:-}" ]; then
    echo "FAIL: FLASHMESH_BIN=$BIN is not an executable" >&2
    exit 1
  fi
  cargo build --bin flashmesh
fi
mkdir -p "$LOG_DIR"

# start_node NAME NS: runs flashmesh in NS with stdin from a fifo held open
# on fd IN_<NAME>, stdout to $LOG_DIR/netns-NAME.jsonl, stderr to .log.
start_node() {
  local name=$1 ns=$2 fd
  mkfifo "$TMP/$name.in"
  ip netns exec "$ns" "$BIN" run --room "$ROOM" --json --port "$TCP_PORT" \
    --discovery-port "$DISCOVERY_PORT" --key-file "$TMP/$name.key" \
    <"$TMP/$name.in" >"$LOG_DIR/netns-$name.jsonl" 2>"$LOG_DIR/netns-$name.log" &
  eval "PID_$name=$!"
  # Opening the write end waits for the node to open the read end.
  exec {fd}>"$TMP/$name.in"
  eval "IN_$name=$fd"
}
start_node a "$NS_A"
start_node b "$NS_B"

# ready_id NAME: the node's id from its ready line, or nothing yet.
ready_id() {
  grep -E '"event" *: *"ready"' "$LOG_DIR/netns-$1.jsonl" 2>/dev/null |
    grep -oE '"id" *: *"[0-9a-f]{64}"' | head -n1 | grep -oE '[0-9a-f]{64}' || true
}

# linked NAME PEER_ID: whether NAME logged a link_up naming PEER_ID.
linked() {
  grep -E '"event" *: *"link_up"' "$LOG_DIR/netns-$1.jsonl" 2>/dev/null |
    grep -qE "\"peer\" *: *\"$2\""
}

show_logs() {
  local name
  for name in a b; do
    echo "--- $LOG_DIR/netns-$name.jsonl (tail)"
    tail -n 20 "$LOG_DIR/netns-$name.jsonl" || true
    echo "--- $LOG_DIR/netns-$name.log (tail)"
    tail -n 20 "$LOG_DIR/netns-$name.log" || true
  done
}

start=$SECONDS
id_a= id_b=
while true; do
  [ -n "$id_a" ] || id_a=$(ready_id a)
  [ -n "$id_b" ] || id_b=$(ready_id b)
  if [ -n "$id_a" ] && [ -n "$id_b" ] && linked a "$id_b" && linked b "$id_a"; then
    break
  fi
  for name in a b; do
    pid_var=PID_$name
    if ! kill -0 "${!pid_var}" 2>/dev/null; then
      echo "FAIL: node $name exited early" >&2
      show_logs >&2
      exit 1
    fi
  done
  if ((SECONDS - start >= DEADLINE_S)); then
    echo "FAIL: no link_up both ways within ${DEADLINE_S} s (a=${id_a:-?} b=${id_b:-?})" >&2
    show_logs >&2
    exit 1
  fi
  sleep "$POLL_S"
done
echo "linked by discovery in $((SECONDS - start)) s: a=${id_a:0:8} b=${id_b:0:8}"

# --- quit -------------------------------------------------------------------
for name in a b; do
  fd_var=IN_$name
  fd=${!fd_var}
  echo "/quit" >&"$fd" || true
  exec {fd}>&- # and end of input
done
start=$SECONDS
for name in a b; do
  pid_var=PID_$name
  while kill -0 "${!pid_var}" 2>/dev/null && ((SECONDS - start < DEADLINE_S)); do
    sleep "$POLL_S"
  done
  if kill -0 "${!pid_var}" 2>/dev/null; then
    echo "note: node $name did not quit within ${DEADLINE_S} s; stopping it"
  fi
done
echo "OK: logs in $LOG_DIR/netns-a.jsonl and $LOG_DIR/netns-b.jsonl"
