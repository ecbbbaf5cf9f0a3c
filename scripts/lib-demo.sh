# shellcheck shell=bash
# Shared helpers of the scripts/demo-*.sh scripts: real `flashmesh run
# --json` processes on loopback, driven through one fifo per node and
# checked on their JSON output. Source it, then call demo_init NAME.
#
#   demo_init NAME          cd to the repo, find or build the binary, make a
#                           temp dir, install the EXIT trap, pick jq/python3
#   start_node NODE ARGS..  runs `flashmesh run --json --key-file ... ARGS`
#                           with stdin from a fifo held open in this shell,
#                           stdout to $LOG_DIR/NAME-NODE.jsonl, stderr .err
#                           (prefixed by RUN_PREFIX, e.g. ip netns exec NS)
#   send NODE LINE          writes one line to the node's stdin: a JSON
#                           object as it is, any other line (chat, /me)
#                           wrapped as {"cmd":"line","text":LINE}, since
#                           with --json every line must be a JSON command
#   close_input NODE        closes its stdin (EOF: graceful leave)
#   kill_node NODE [SIG]    signals it (default KILL); it is then expected gone
#   wait_exit NODE [DESC]   polls until the node exited (and checks its status)
#   poll_until CMD ARGS     polls CMD until it succeeds; 1 after DEADLINE_S
#   wait_for DESC CMD ARGS  the same, but a timeout fails the run
#   step DESC CMD ARGS      wait_for, then prints "ok: DESC (time)"
#   ev MODE NODE FIELD EVENT [KEY=VALUE...]
#                           query a node's log: MODE is count (matching
#                           events), first or last (FIELD of that event),
#                           all (FIELD of every match, one per line); FIELD
#                           is a dotted path, `name[]` iterates an array
#                           (e.g. peers[].peer), `.` is the whole event
#   count NODE EVENT [KEY=VALUE...] / has NODE EVENT [KEY=VALUE...]
#                           how many such events / whether any was logged
#   wait_ready NODE VAR     waits for its ready event, sets VAR to its id
#   status_is NODE ID ST    NODE's last member event about ID says ST
#   listed NODE ID ST [NICK]  NODE's /members lists ID as ST (sends /members)
#   linked_to NODE ID [ADDR]  NODE's /peers lists ID (sends /peers)
#   fail MSG / pass MSG     the one-line summary; fail also shows log tails
#   demo_on_exit            if the script defines it, the EXIT trap calls it
#                           after stopping the nodes
#
# Env: FLASHMESH_BIN (default ${CARGO_TARGET_DIR:-target}/debug/flashmesh,
# built with `cargo build --quiet` if missing), LOG_DIR (default
# target/demo-logs), DEADLINE_S (per condition, default 30), POLL_S (0.1),
# DEMO_JSON_TOOL (jq or python3; default: jq if installed, else python3).
#
# Nodes only ever talk over 127.0.0.1: callers pass --bind 127.0.0.1 and
# --broadcast 127.255.255.255 (or --no-discovery).

DEADLINE_S=${DEADLINE_S:-30}
POLL_S=${POLL_S:-0.1}
LOG_DIR=${LOG_DIR:-target/demo-logs}

declare -A NODE_PID=() NODE_FD=() NODE_GONE=()
NODES=()
DEMO_DONE=0
# Prepended to the command of the next start_node (e.g. ip netns exec NS).
RUN_PREFIX=()

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# secs MS: milliseconds as seconds with one decimal.
secs() { printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); }

demo_init() {
  DEMO_NAME=$1
  cd "$(dirname "${BASH_SOURCE[0]}")/.."
  DEMO_START_MS=$(now_ms)
  BIN=${FLASHMESH_BIN:-${CARGO_TARGET_DIR:-target}/debug/flashmesh}
  if [ ! -x "$BIN" ]; then
    if [ -n "${FLASHMESH_BIN:-}" ]; then
      echo "FAIL $DEMO_NAME: FLASHMESH_BIN=$BIN is not an executable" >&2
      exit 1
    fi
    cargo build --quiet --bin flashmesh
  fi
  case "${DEMO_JSON_TOOL:-}" in
    jq | python3) JSON_TOOL=$DEMO_JSON_TOOL ;;
    "")
      if command -v jq >/dev/null 2>&1; then
        JSON_TOOL=jq
      elif command -v python3 >/dev/null 2>&1; then
        JSON_TOOL=python3
      else
        echo "FAIL $DEMO_NAME: needs jq or python3 to read the JSON events" >&2
        exit 1
      fi
      ;;
    *)
      echo "FAIL $DEMO_NAME: DEMO_JSON_TOOL must be jq or python3" >&2
      exit 1
      ;;
  esac
  command -v "$JSON_TOOL" >/dev/null 2>&1 || {
    echo "FAIL $DEMO_NAME: $JSON_TOOL is not installed" >&2
    exit 1
  }
  mkdir -p "$LOG_DIR"
  # Two runs of one script would write the same logs: the second waits.
  if command -v flock >/dev/null 2>&1; then
    exec {DEMO_LOCK_FD}>"$LOG_DIR/$DEMO_NAME.lock"
    if ! flock -n "$DEMO_LOCK_FD"; then
      echo "waiting for another run of $DEMO_NAME to finish (it holds $LOG_DIR/$DEMO_NAME.lock)"
      flock -w 120 "$DEMO_LOCK_FD" || {
        echo "FAIL $DEMO_NAME: another run still holds $LOG_DIR/$DEMO_NAME.lock (set LOG_DIR to run both)" >&2
        exit 1
      }
      DEMO_START_MS=$(now_ms)
    fi
  fi
  rm -f "$LOG_DIR/$DEMO_NAME"-*.jsonl "$LOG_DIR/$DEMO_NAME"-*.err
  DEMO_TMP=$(mktemp -d "${TMPDIR:-/tmp}/flashmesh-$DEMO_NAME.XXXXXX")
  trap demo_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  set -o errtrace
  trap 'DEMO_ERR="line $LINENO: $BASH_COMMAND"' ERR
}

# --- logs and summary --------------------------------------------------------

log_of() { echo "$LOG_DIR/$DEMO_NAME-$1.jsonl"; }

show_logs() {
  local node
  for node in "${NODES[@]}"; do
    echo "--- $(log_of "$node") (last 15 lines)"
    tail -n 15 "$(log_of "$node")" 2>/dev/null || true
    echo "--- $LOG_DIR/$DEMO_NAME-$node.err (last 5 lines)"
    tail -n 5 "$LOG_DIR/$DEMO_NAME-$node.err" 2>/dev/null || true
  done
}

elapsed() { secs $(($(now_ms) - DEMO_START_MS)); }

fail() {
  if [ "$BASHPID" != "$$" ]; then
    # In a subshell ($(...)): the main shell reports, once.
    echo "error: $*" >&2
    exit 1
  fi
  DEMO_DONE=1
  {
    show_logs
    echo "FAIL $DEMO_NAME: $* ($(elapsed) s; logs in $LOG_DIR/$DEMO_NAME-*)"
  } >&2
  exit 1
}

pass() {
  DEMO_DONE=1
  echo "PASS $DEMO_NAME: $* ($(elapsed) s)"
}

# Stops every node still running (by pid: only our own children), then
# removes the temp dir. Any exit not announced by pass or fail is a failure.
demo_exit() {
  local rc=$? node pid
  trap - ERR
  set +e
  if [ "$DEMO_DONE" -eq 0 ]; then
    {
      show_logs
      echo "FAIL $DEMO_NAME: stopped by an error (exit $rc${DEMO_ERR:+, $DEMO_ERR}) ($(elapsed) s)"
    } >&2
    [ "$rc" -ne 0 ] || rc=1
  fi
  for node in "${NODES[@]}"; do
    pid=${NODE_PID[$node]}
    kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
  done
  local until=$(($(now_ms) + 3000))
  for node in "${NODES[@]}"; do
    pid=${NODE_PID[$node]}
    while kill -0 "$pid" 2>/dev/null && (($(now_ms) < until)); do sleep 0.05; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  # The script's own cleanup, if it has one (after its nodes stopped).
  if declare -F demo_on_exit >/dev/null; then demo_on_exit; fi
  rm -rf "$DEMO_TMP"
  exit "$rc"
}

# --- nodes -------------------------------------------------------------------

# start_node NODE ARGS...: starts `flashmesh run --json` with a key file of
# its own, stdin from a fifo this shell holds open (NODE_FD), stdout and
# stderr to the logs.
start_node() {
  local node=$1 fd fifo=$DEMO_TMP/$1.in
  shift
  mkfifo "$fifo"
  NODES+=("$node")
  : >"$(log_of "$node")"
  (
    # Do not hold the other nodes' stdin open: closing one must be its EOF.
    for fd in "${NODE_FD[@]}" ${DEMO_LOCK_FD:+"$DEMO_LOCK_FD"}; do exec {fd}>&-; done
    export NO_COLOR=1 # plain text logs on stderr
    # Settings of its own: the machine's config and remembered room are
    # neither read nor overwritten by a demo.
    export XDG_CONFIG_HOME=$DEMO_TMP/$node.config XDG_DATA_HOME=$DEMO_TMP/$node.data
    exec "${RUN_PREFIX[@]}" "$BIN" run --json --key-file "$DEMO_TMP/$node.key" "$@" \
      <"$fifo" >"$(log_of "$node")" 2>"$LOG_DIR/$DEMO_NAME-$node.err"
  ) &
  NODE_PID[$node]=$!
  # Opening the write end waits until the node opened the read end.
  exec {fd}>"$fifo"
  NODE_FD[$node]=$fd
}

alive() { kill -0 "${NODE_PID[$1]}" 2>/dev/null; }
gone() { ! alive "$1"; }

# as_command LINE: LINE as a JSON command: a line that already is a JSON
# object (starts with {) as it is, any other wrapped as
# {"cmd":"line","text":LINE} (`flashmesh run --json` refuses plain lines).
as_command() {
  case "$1" in
    "{"*) printf '%s\n' "$1" ;;
    *)
      if [ "$JSON_TOOL" = jq ]; then
        jq -cn --arg t "$1" '{cmd:"line",text:$t}'
      else
        python3 -c 'import json, sys; print(json.dumps({"cmd": "line", "text": sys.argv[1]}, ensure_ascii=False, separators=(",", ":")))' "$1"
      fi
      ;;
  esac
}

send() {
  local node=$1 line
  [ -n "${NODE_FD[$node]:-}" ] || fail "cannot write to $node: its input is closed"
  alive "$node" || fail "cannot write to $node: it is not running"
  line=$(as_command "$2") || fail "cannot make a JSON command of: $2"
  # In a subshell: if the node just died, SIGPIPE ends the subshell only.
  (printf '%s\n' "$line" >&"${NODE_FD[$node]}") 2>/dev/null ||
    fail "cannot write to $node (it exited?)"
}

close_input() {
  local node=$1 fd=${NODE_FD[$1]:-}
  [ -n "$fd" ] || return 0
  exec {fd}>&-
  unset 'NODE_FD[$node]'
  NODE_GONE[$node]=1
}

kill_node() {
  local node=$1 sig=${2:-KILL}
  NODE_GONE[$node]=1
  kill "-$sig" "${NODE_PID[$node]}"
  close_input "$node"
  # Reap it here, quietly (no "Killed" job notice).
  wait "${NODE_PID[$node]}" 2>/dev/null || true
}

# check_running: fails the run if a node exited that should be running.
check_running() {
  local node
  for node in "${NODES[@]}"; do
    [ -z "${NODE_GONE[$node]:-}" ] || continue
    alive "$node" || fail "node $node exited unexpectedly"
  done
}

# poll_until CMD ARGS...: polls CMD every POLL_S for up to DEADLINE_S
# seconds (fails the run if a node exits meanwhile); status 1 on timeout.
# WAITED_MS is how long it took.
poll_until() {
  local start until
  start=$(now_ms)
  until=$((start + DEADLINE_S * 1000))
  until "$@"; do
    check_running
    if (($(now_ms) >= until)); then
      WAITED_MS=$(($(now_ms) - start))
      return 1
    fi
    sleep "$POLL_S"
  done
  WAITED_MS=$(($(now_ms) - start))
}

# wait_for DESC CMD ARGS...: poll_until, failing the run on timeout.
wait_for() {
  local desc=$1
  shift
  poll_until "$@" || fail "timed out after ${DEADLINE_S} s waiting for: $desc"
}

step() {
  local desc=$1
  wait_for "$@"
  echo "ok: $desc ($(secs "$WAITED_MS") s)"
}

# wait_exit NODE [DESC]: polls until the node has exited, then checks it
# exited with status 0.
wait_exit() {
  local node=$1 desc=${2:-$1 exits} rc=0
  NODE_GONE[$node]=1
  step "$desc" gone "$node"
  wait "${NODE_PID[$node]}" || rc=$?
  [ "$rc" -eq 0 ] || fail "$node exited with status $rc"
}

# --- JSON queries ------------------------------------------------------------

# ev MODE NODE FIELD EVENT [KEY=VALUE...]: see the header. Values compare as
# text (true, false and null as JSON spells them). Lines that are not
# complete JSON objects (one being written) are skipped.
ev() {
  local mode=$1 node=$2 field=$3 event=$4
  shift 4
  local file
  file=$(log_of "$node")
  if [ "$JSON_TOOL" = jq ]; then
    local args=(--arg ev "$event") cond='.event == $ev' i=0 kv path
    for kv in "$@"; do
      args+=(--arg "k$i" "${kv%%=*}" --arg "v$i" "${kv#*=}")
      cond+=" and ((.[\$k$i] | if type == \"string\" then . else tojson end) == \$v$i)"
      i=$((i + 1))
    done
    if [ "$field" = . ]; then path=.; else path=.$field; fi
    local sel="fromjson? | objects | select($cond)"
    local out="$path | if type == \"string\" then . else tojson end"
    case "$mode" in
      count) jq -R -n "${args[@]}" "[inputs | $sel] | length" "$file" ;;
      # Not first(inputs | ..): jq 1.6's `try` (in fromjson?) swallows the
      # break that first() stops with, so it would print every match.
      first) jq -R -n -r "${args[@]}" "[inputs | $sel] | first // empty | $out" "$file" ;;
      last) jq -R -n -r "${args[@]}" "[inputs | $sel] | last // empty | $out" "$file" ;;
      all) jq -R -r "${args[@]}" "$sel | $out" "$file" ;;
      *) echo "ev: unknown mode $mode" >&2; return 2 ;;
    esac
  else
    python3 - "$mode" "$file" "$field" "$event" "$@" <<'PY'
import json, sys
mode, path, field, event, *conds = sys.argv[1:]
conds = [c.split("=", 1) for c in conds]
def text(v):
    return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"), ensure_ascii=False)
def get(v, parts):
    if not parts:
        yield v
        return
    head, rest = parts[0], parts[1:]
    many = head.endswith("[]")
    key = head[:-2] if many else head
    if key:
        if not isinstance(v, dict) or key not in v:
            if not many:
                yield None
            return
        v = v[key]
    if many:
        for item in v if isinstance(v, list) else []:
            yield from get(item, rest)
    else:
        yield from get(v, rest)
matches = []
with open(path, encoding="utf-8", errors="replace") as f:
    for line in f:
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if not isinstance(e, dict) or e.get("event") != event:
            continue
        if all(k in e and text(e[k]) == v for k, v in conds):
            matches.append(e)
parts = [] if field == "." else field.split(".")
if mode == "count":
    print(len(matches))
elif mode in ("first", "last"):
    if matches:
        for v in get(matches[0] if mode == "first" else matches[-1], parts):
            print(text(v))
elif mode == "all":
    for m in matches:
        for v in get(m, parts):
            print(text(v))
else:
    sys.exit("ev: unknown mode " + mode)
PY
  fi
}

# count NODE EVENT [KEY=VALUE...]: how many such events the node logged.
count() { ev count "$1" . "${@:2}"; }

# has NODE EVENT [KEY=VALUE...]: whether the node logged such an event.
has() {
  local n
  n=$(count "$@") || fail "cannot read $(log_of "$1")"
  [ "$n" -gt 0 ]
}

# wait_ready NODE VAR: waits for the node's ready event; sets VAR to its id.
wait_ready() {
  step "$1 ready" has "$1" ready
  printf -v "$2" '%s' "$(ev first "$1" id ready)"
}

# member_status NODE OF_ID: the status in NODE's last member event about OF_ID.
member_status() { ev last "$1" status member "node=$2"; }

# status_is NODE OF_ID STATUS
status_is() { [ "$(member_status "$1" "$2")" = "$3" ]; }

# listed NODE OF_ID STATUS [NICK]: for polling: asks NODE for /members and
# checks its latest members answer (this one or an earlier one) lists OF_ID
# with STATUS (and NICK). Unlike member events, it does not depend on
# events the node printed while it was starting.
listed() {
  local entry
  send "$1" /members
  entry=$(ev last "$1" 'members[]' members | grep -F "\"node\":\"$2\"") || return 1
  grep -qF "\"status\":\"$3\"" <<<"$entry" || return 1
  [ -z "${4:-}" ] || grep -qF "\"nick\":\"$4\"" <<<"$entry"
}

# linked_to NODE OF_ID [ADDR_PREFIX]: for polling: asks NODE for /peers and
# checks its latest peers answer lists a link to OF_ID (whose address
# starts with ADDR_PREFIX).
linked_to() {
  local entry
  send "$1" /peers
  entry=$(ev last "$1" 'peers[]' peers | grep -F "\"peer\":\"$2\"") || return 1
  [ -z "${3:-}" ] || grep -qF "\"addr\":\"$3" <<<"$entry"
}

# --- ports -------------------------------------------------------------------

# free_udp_port: a UDP port nothing on this host is bound to (read from
# /proc/net/udp*), picked at random from 20000-59999.
free_udp_port() {
  local port hex tries=0
  while ((tries < 100)); do
    tries=$((tries + 1))
    port=$((20000 + RANDOM % 40000))
    hex=$(printf ':%04X ' "$port")
    if ! cat /proc/net/udp /proc/net/udp6 2>/dev/null | awk '{print $2" "}' | grep -qF "$hex"; then
      echo "$port"
      return 0
    fi
  done
  fail "no free UDP port found"
}

# random_digits N: N random decimal digits (for room codes unique per run).
random_digits() {
  local s=""
  while ((${#s} < $1)); do s+=$(printf '%04d' $((RANDOM % 10000))); done
  echo "${s:0:$1}"
}

# --- restarts and answers (the op-log demos) ---------------------------------
#
#   start_node_keyed NODE KEY ARGS..
#                           start_node, but with the key file of KEY
#                           ($DEMO_TMP/KEY.key; its op-log is in
#                           $DEMO_TMP/rooms/): a restart is a new NODE (its
#                           own fifo and logs, e.g. a1, a2) with the same KEY
#   send_lines NODE LINE..  writes all the lines to its stdin in one write
#                           (each made a JSON command as `send` does)
#   more_than NODE EVENT N  NODE logged more than N such events
#   ask NODE LINE EVENT     sends LINE, waits for NODE's next EVENT (its
#                           answer; read it with `ev last NODE FIELD EVENT`)

start_node_keyed() {
  local node=$1 key=$2 fd fifo=$DEMO_TMP/$1.in
  shift 2
  mkfifo "$fifo"
  NODES+=("$node")
  : >"$(log_of "$node")"
  (
    for fd in "${NODE_FD[@]}" ${DEMO_LOCK_FD:+"$DEMO_LOCK_FD"}; do exec {fd}>&-; done
    export NO_COLOR=1
    export XDG_CONFIG_HOME=$DEMO_TMP/$node.config XDG_DATA_HOME=$DEMO_TMP/$node.data
    exec "${RUN_PREFIX[@]}" "$BIN" run --json --key-file "$DEMO_TMP/$key.key" "$@" \
      <"$fifo" >"$(log_of "$node")" 2>"$LOG_DIR/$DEMO_NAME-$node.err"
  ) &
  NODE_PID[$node]=$!
  exec {fd}>"$fifo"
  NODE_FD[$node]=$fd
}

send_lines() {
  local node=$1 line lines=()
  shift
  [ -n "${NODE_FD[$node]:-}" ] || fail "cannot write to $node: its input is closed"
  alive "$node" || fail "cannot write to $node: it is not running"
  for line in "$@"; do
    lines+=("$(as_command "$line")") || fail "cannot make a JSON command of: $line"
  done
  (printf '%s\n' "${lines[@]}" >&"${NODE_FD[$node]}") 2>/dev/null ||
    fail "cannot write to $node (it exited?)"
}

more_than() {
  local n
  n=$(count "$1" "$2") || return 1
  [ "$n" -gt "$3" ]
}

ask() {
  local node=$1 line=$2 event=$3 before
  before=$(count "$node" "$event") || fail "cannot read $(log_of "$node")"
  send "$node" "$line"
  wait_for "$node answers $line ($event)" more_than "$node" "$event" "$before"
}

# fields FIELD...: reads JSON objects, one per line, on stdin (e.g. from
# `ev last NODE . EVENT` or `ev last NODE 'ops[]' history`) and prints the
# FIELDs (top-level keys) of each, tab-separated, one line per object:
# strings as they are, other values (and missing ones: null) as JSON. One
# jq or python3 run for many values.
fields() {
  if [ "$JSON_TOOL" = jq ]; then
    jq -r '. as $o | [$ARGS.positional[] | $o[.] | if type == "string" then . else tojson end] | join("\t")' --args "$@"
  else
    python3 -c '
import json, sys
def text(v):
    return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"), ensure_ascii=False)
for line in sys.stdin:
    o = json.loads(line)
    print("\t".join(text(o.get(k)) for k in sys.argv[1:]))' "$@"
  fi
}

# --- applet commands (the event-applet demos) --------------------------------
#
#   act NODE LINE           sends LINE (an applet command that writes an
#                           op) and waits for its "done" event; an "error"
#                           instead fails the run (ask listings with `ask`)
#   refused NODE LINE TEXT  sends LINE and waits for an "error" whose message
#                           contains TEXT; anything written instead fails
#   agree NODE..            for polling: asks each NODE for /state and checks
#                           they all report one state_hash and op count
#   op_seen NODE APPLET ACTION [N]
#                           NODE printed N (default 1) or more incoming
#                           "op" events of APPLET with ACTION

# answers NODE: how many "done" and "error" events NODE printed so far.
answers() { echo "$(count "$1" done) $(count "$1" error)"; }

# answered NODE DONE ERRORS: NODE printed more of either.
answered() { more_than "$1" done "$2" || more_than "$1" error "$3"; }

act() {
  local node=$1 line=$2 d e
  read -r d e < <(answers "$node")
  send "$node" "$line"
  wait_for "$node answers '$line'" answered "$node" "$d" "$e"
  [ "$(count "$node" error)" = "$e" ] ||
    fail "$node refused '$line': $(ev last "$node" message error)"
  echo "ok: $node: $line"
}

refused() {
  local node=$1 line=$2 text=$3 d e msg
  read -r d e < <(answers "$node")
  send "$node" "$line"
  wait_for "$node answers '$line'" answered "$node" "$d" "$e"
  [ "$(count "$node" done)" = "$d" ] ||
    fail "$node accepted '$line'; expected a refusal ($text)"
  msg=$(ev last "$node" message error)
  [[ "$msg" == *"$text"* ]] || fail "$node refused '$line' with '$msg', expected '$text'"
  echo "ok: $node refused '$line': $msg"
}

agree() {
  local node first="" got
  for node in "$@"; do
    ask "$node" /state state
    got="$(ev last "$node" state_hash state) $(ev last "$node" ops state)"
    if [ -z "$first" ]; then first=$got; elif [ "$got" != "$first" ]; then return 1; fi
  done
}

op_seen() {
  local n
  n=$(count "$1" op "applet=$2" "action=$3") || return 1
  [ "$n" -ge "${4:-1}" ]
}
